// Review of issue 12 items 1-5 (resilience, tracing, OTLP): what the first round left out.
// Each retry attempt carries its own span id in traceparent and is exported as its own client
// span; a collector that never answers does not hold a SIGTERM past the drain timeout. The real capproxy
// binary, tests/data/resil/, recording upstreams and a stand-in OTLP/HTTP JSON collector.
// Run: cd tests/integration && node --test resil-review.test.mjs

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { startCollector } from './otlp-collector.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const ARGS = ['-c', 'tests/data/resil/capproxy.yaml', 'tests/data/resil/resil.yaml'];
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TP_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
  assert.equal(r.code, 0, `exit code; stderr tail:\n${px.lines.slice(-20).join('\n')}`);
}

function upstreams() {
  return Promise.all([startUpstream(), startUpstream(), startUpstream()]);
}

function env(ups, extra) {
  return {
    CPX_FLAKY_BASE: ups[0].url,
    CPX_GUARDED_BASE: ups[1].url,
    CPX_NARROW_BASE: ups[2].url,
    CAPPROXY_WORKERS: '1',
    ...extra,
  };
}

describe('retries and trace context', () => {
  test('each attempt has its own span id upstream and its own client span', T, async () => {
    const ups = await upstreams();
    const col = await startCollector();
    const px = await startProxy({ args: ARGS, env: env(ups, { OTEL_EXPORTER_OTLP_ENDPOINT: col.base }) });
    let seen = 0;
    ups[0].handle(() => (++seen <= 2 ? { status: 503, body: { error: 'busy' } } : { status: 200, body: { ok: true } }));
    try {
      const r = await request(px.restUrl, '/items', { headers: { traceparent: TP } });
      assert.equal(r.status, 200, r.text);
    } finally {
      await stopClean(px); // flushes the spans
      for (const u of ups) await u.close();
      await col.close();
    }
    const hops = ups[0].requests.map((q) => TP_RE.exec(q.headers.traceparent));
    assert.equal(hops.length, 3);
    assert.ok(hops.every((h) => h && h[1] === '4bf92f3577b34da6a3ce929d0e0e4736'), 'one trace');
    const ids = hops.map((h) => h[2]);
    assert.equal(new Set(ids).size, 3, `a new span id per attempt: ${ids}`);
    assert.ok(!ids.includes('00f067aa0ba902b7'), 'never the caller\'s span id');
    const server = col.spans.find((s) => s.kind === 2);
    const clients = col.spans.filter((s) => s.kind === 3);
    assert.ok(server, JSON.stringify(col.spans));
    assert.deepEqual(clients.map((s) => s.spanId), ids, 'one client span per attempt, in order');
    assert.ok(clients.every((s) => s.parentSpanId === server.spanId));
    assert.deepEqual(clients.map((s) => s.attrs['http.response.status_code']), [503, 503, 200]);
    assert.deepEqual(clients.map((s) => s.attrs['http.request.resend_count']), [undefined, 1, 2]);
    for (let i = 1; i < 3; i++)
      assert.ok(BigInt(clients[i].startTimeUnixNano) >= BigInt(clients[i - 1].endTimeUnixNano), 'attempts do not overlap');
  });
});

describe('capproxy\'s own refusals', () => {
  test('an open circuit: no client span, no upstream time, the access line says circuit_open', T, async () => {
    const ups = await upstreams();
    const col = await startCollector();
    const px = await startProxy({ args: ARGS, env: env(ups, { OTEL_EXPORTER_OTLP_ENDPOINT: col.base, CAPPROXY_LOG_FORMAT: 'json' }) });
    ups[1].handle(() => ({ status: 500, body: { error: 'down' } }));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(px.restUrl, '/status')).status, 500);
      const r = await request(px.restUrl, '/status', { headers: { 'x-request-id': 'open-circuit-1' } });
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.reason, 'circuit_open');
    } finally {
      await stopClean(px);
      for (const u of ups) await u.close();
      await col.close();
    }
    const line = px.lines.map((l) => { try { return JSON.parse(l); } catch { return null; } })
      .find((o) => o && o.level === 'access' && o.request_id === 'open-circuit-1');
    assert.ok(line, 'access line');
    assert.equal(line.upstream_error, 'circuit_open');
    assert.equal(line.upstream_ms, null);
    assert.equal(line.upstream_status, null);
    assert.equal(col.spans.filter((s) => s.kind === 3).length, 3, 'a client span per attempt that went upstream, none for the refusal');
    assert.equal(col.spans.filter((s) => s.kind === 2).length, 4);
  });
});

describe('retries and the outbound rate', () => {
  test('a retry takes its turn under consumers[].rate like a first attempt', T, async () => {
    const ups = await upstreams();
    const px = await startProxy({ args: ['-c', 'tests/data/resil-review/capproxy.yaml', 'tests/data/resil/resil.yaml'], env: env(ups, { CAPPROXY_WORKERS: '2' }) });
    let seen = 0;
    ups[0].handle(() => (++seen <= 2 ? { status: 503, body: { error: 'busy' } } : { status: 200, body: { ok: true } }));
    try {
      const r = await request(px.restUrl, '/items');
      assert.equal(r.status, 200, r.text);
      const t = ups[0].requests.map((q) => q.time);
      assert.equal(t.length, 3);
      // 4/s: one transfer every 250 ms, where the back-off alone is at most 2 ms. Times are
      // arrivals: the first one's new connection may come late (valgrind), the retries reuse it.
      assert.ok(t[2] - t[1] >= 200 && t[2] - t[0] >= 350, `attempts ${t[1] - t[0]} and ${t[2] - t[1]} ms apart`);
    } finally {
      await stopClean(px);
      for (const u of ups) await u.close();
    }
  });
});

describe('the retry budget', () => {
  test('an outage: retries stay within 10 % of the requests, whatever the workers', T, async () => {
    const ups = await upstreams();
    const px = await startProxy({ args: ['-c', 'tests/data/resil-review/budget.yaml', 'tests/data/resil/resil.yaml'], env: env(ups, { CAPPROXY_WORKERS: '2' }) });
    ups[0].handle(() => ({ status: 503, body: { error: 'down' } }));
    const N = 60;
    try {
      for (let i = 0; i < N / 6; i++) {
        const rs = await Promise.all(Array.from({ length: 6 }, () => request(px.restUrl, '/items')));
        for (const r of rs) assert.equal(r.status, 503);
      }
      const m = (await request(px.adminUrl, '/metrics')).text;
      const retries = ups[0].requests.length - N;
      // 2 retries each without the budget (120); 10 % of the window's requests with it
      assert.ok(retries >= 1 && retries <= N / 10, `${retries} retries for ${N} requests`);
      const ex = /capproxy_upstream_retry_budget_exhausted_total\{api="flaky"\} (\d+)/.exec(m);
      assert.ok(ex && Number(ex[1]) >= N - retries, m);
    } finally {
      await stopClean(px);
      for (const u of ups) await u.close();
    }
  });
});

describe('the concurrency cap over 2 workers', () => {
  test('maxConcurrent 3 is never exceeded: each worker takes 3 / 2 rounded down', T, async () => {
    const ups = await upstreams();
    const px = await startProxy({ args: ['-c', 'tests/data/resil-review/capproxy.yaml', 'tests/data/resil/resil.yaml'], env: env(ups, { CAPPROXY_WORKERS: '2' }) });
    let active = 0;
    let peak = 0;
    ups[2].handle(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 300));
      active--;
      return { status: 200, body: { ok: true } };
    });
    try {
      const rs = await Promise.all(Array.from({ length: 16 }, () => request(px.restUrl, '/slow')));
      assert.deepEqual(rs.map((r) => r.status), Array(16).fill(200));
      assert.ok(peak <= 3, `at most 3 upstream at once, saw ${peak}`);
    } finally {
      await stopClean(px);
      for (const u of ups) await u.close();
    }
  });
});

describe('OTLP with a collector that never answers', () => {
  test('SIGTERM still ends within the drain timeout, exit 0', T, async () => {
    const ups = await upstreams();
    // accepts the connection, reads the export, never answers
    const held = [];
    const hole = http.createServer((req) => { held.push(req); });
    await new Promise((r) => hole.listen(0, '127.0.0.1', r));
    const drainMs = 2000 * SCALE;
    const px = await startProxy({
      args: ARGS,
      env: env(ups, {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${hole.address().port}`,
        CAPPROXY_DRAIN_TIMEOUT: `${drainMs}ms`,
      }),
    });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await request(px.restUrl, '/items')).status, 200);
    } finally {
      const t0 = Date.now();
      await stopClean(px);
      const took = Date.now() - t0;
      assert.ok(took < drainMs + 10_000 * SCALE, `stopped after ${took} ms (drain timeout ${drainMs} ms)`);
      assert.ok(held.length >= 1, 'the export was attempted at shutdown');
      hole.closeAllConnections();
      await new Promise((r) => hole.close(r));
      for (const u of ups) await u.close();
    }
  });
});
