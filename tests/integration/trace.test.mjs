// Trace context, OTLP export and access-log tests: W3C traceparent/tracestate carried upstream
// with the same trace id and a new span id per hop, invalid ones replaced (never forwarded), the
// caller's User-Agent forwarded with capproxy's appended, the access line's fields (JSON), spans
// exported as OTLP/HTTP JSON to a stand-in collector (Debian bookworm and npm ship no
// OpenTelemetry Collector that runs here; the stand-in decodes what a collector would), the
// dropped-span counter with a dead collector, and requests staying fast meanwhile.
// Run: cd tests/integration && node --test trace.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream, closedPort } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { startCollector } from './otlp-collector.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-managed-users.yaml'];
const BASE_ENV = { CAL_COM_CLIENT_SECRET: 'sk-capproxy-TRACE-0c1d2e3f4a5b', CAL_COM_API_KEY: 'unused' };
const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TP_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const VERSION_RE = /capproxy\/\d+\.\d+\.\d+/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
  assert.equal(r.code, 0, `exit code; stderr tail:\n${px.lines.slice(-20).join('\n')}`);
}

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

function jsonAccess(px, p) {
  return px.lines
    .map((l) => { try { return JSON.parse(l); } catch { return null; } })
    .filter((o) => o && o.level === 'access' && o.path === p);
}

describe('trace context and User-Agent upstream', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
    px = await startProxy({ upstream: up, args: ARGS, env: { ...BASE_ENV, CAPPROXY_LOG_FORMAT: 'json' } });
  });
  after(async () => {
    if (px) await stopClean(px);
    if (up) await up.close();
  });
  const one = (p) => {
    const recs = up.requests.filter((r) => r.path === p);
    assert.equal(recs.length, 1, `one upstream request for ${p}`);
    return recs[0];
  };

  test('a valid traceparent continues: same trace id, new span id, tracestate kept', T, async () => {
    const r = await request(px.restUrl, '/v1/v2/oauth-clients/c/users/1', {
      headers: { traceparent: TP, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', 'user-agent': 'agent/1.0 (x)' },
    });
    assert.equal(r.status, 200, r.text);
    const h = one('/v2/oauth-clients/c/users/1').headers;
    const m = TP_RE.exec(h.traceparent);
    assert.ok(m, `upstream traceparent: ${h.traceparent}`);
    assert.equal(m[1], '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.notEqual(m[2], '00f067aa0ba902b7', 'a new span id for the hop');
    assert.equal(m[3], '01', 'sampled flag followed');
    assert.equal(h.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    assert.match(h['user-agent'], /^agent\/1\.0 \(x\) capproxy\/\d+\.\d+\.\d+$/);
    await px.waitForLine(/"path":"\/v1\/v2\/oauth-clients\/c\/users\/1"/, 5000 * SCALE);
    const [a] = jsonAccess(px, '/v1/v2/oauth-clients/c/users/1');
    assert.equal(a.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(a.user_agent, 'agent/1.0 (x)');
    assert.equal(a.client, '127.0.0.1');
    assert.equal(a.upstream_addr, `127.0.0.1:${new URL(up.url).port}`);
    assert.equal(typeof a.upstream_ms, 'number');
    assert.ok(a.upstream_ms >= 0 && a.upstream_ms <= a.duration_ms + 1, JSON.stringify(a));
    assert.equal(a.bytes_in, 0);
    assert.equal(a.bytes_out, r.body.length);
    assert.ok(a.request_id.length > 0);
  });

  test('two hops of the same trace get different span ids', T, async () => {
    await request(px.restUrl, '/v1/v2/oauth-clients/c/users/2', { headers: { traceparent: TP } });
    await request(px.restUrl, '/v1/v2/oauth-clients/c/users/3', { headers: { traceparent: TP } });
    const a = TP_RE.exec(one('/v2/oauth-clients/c/users/2').headers.traceparent);
    const b = TP_RE.exec(one('/v2/oauth-clients/c/users/3').headers.traceparent);
    assert.equal(a[1], b[1]);
    assert.notEqual(a[2], b[2]);
  });

  const invalid = [
    ['uppercase hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
    ['zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['too long for 00', `${TP}-x`],
    ['garbage', 'hello'],
  ];
  for (const [i, [what, bad]] of invalid.entries()) {
    test(`an invalid traceparent (${what}) is replaced by a new trace, tracestate dropped`, T, async () => {
      const p = `/v2/oauth-clients/c/users/${100 + i}`;
      const r = await request(px.restUrl, `/v1${p}`, { headers: { traceparent: bad, tracestate: 'congo=1' } });
      assert.equal(r.status, 200, r.text);
      const h = one(p).headers;
      const m = TP_RE.exec(h.traceparent);
      assert.ok(m, `a valid new traceparent: ${h.traceparent}`);
      assert.notEqual(h.traceparent, bad);
      assert.ok(!h.traceparent.includes('4bf92f3577b34da6a3ce929d0e0e4736'), 'not the caller trace');
      assert.equal(h.tracestate, undefined, 'no tracestate without a valid traceparent');
    });
  }

  test('no incoming trace: a new sampled one; no User-Agent: capproxy alone', T, async () => {
    const p = '/v2/oauth-clients/c/users/200';
    await request(px.restUrl, `/v1${p}`, { headers: { 'user-agent': '' } });
    const h = one(p).headers;
    const m = TP_RE.exec(h.traceparent);
    assert.ok(m, h.traceparent);
    assert.equal(m[3], '01', 'new traces are sampled by default (tracing.sampleNew)');
    assert.match(h['user-agent'], /^capproxy\/\d+\.\d+\.\d+$/);
    await px.waitForLine(/"path":"\/v1\/v2\/oauth-clients\/c\/users\/200"/, 5000 * SCALE);
    const [a] = jsonAccess(px, `/v1${p}`);
    assert.equal(a.trace_id, m[1], 'the access line carries the trace id sent upstream');
  });

  test('a too long or oversized tracestate is not forwarded, the trace is', T, async () => {
    const p = '/v2/oauth-clients/c/users/201';
    await request(px.restUrl, `/v1${p}`, { headers: { traceparent: TP, tracestate: `k=${'a'.repeat(520)}` } });
    const h = one(p).headers;
    assert.match(h.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-/);
    assert.equal(h.tracestate, undefined);
  });

  test('two traceparent fields: neither followed, a new trace; tracestate fields joined', T, async () => {
    const p = '/v2/oauth-clients/c/users/202';
    const other = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await request(px.restUrl, `/v1${p}`, { headers: { traceparent: [TP, other], tracestate: 'congo=1' } });
    assert.equal(r.status, 200, r.text);
    const h = one(p).headers;
    const m = TP_RE.exec(h.traceparent);
    assert.ok(m, h.traceparent);
    assert.ok(m[1] !== '4bf92f3577b34da6a3ce929d0e0e4736' && m[1] !== '0af7651916cd43dd8448eb211c80319c', h.traceparent);
    assert.equal(h.tracestate, undefined);
    const q = '/v2/oauth-clients/c/users/203';
    await request(px.restUrl, `/v1${q}`, { headers: { traceparent: TP, tracestate: ['congo=1', 'rojo=2'] } });
    assert.equal(one(q).headers.tracestate, 'congo=1,rojo=2');
  });

  test('the access line of a request with a body counts bytes in', T, async () => {
    const r = await request(px.restUrl, '/v1/v2/oauth-clients/c/users', { method: 'POST', body: { email: 'a@b.c', name: 'x' } });
    await px.waitForLine(/"method":"POST"/, 5000 * SCALE);
    const [a] = jsonAccess(px, '/v1/v2/oauth-clients/c/users').filter((o) => o.method === 'POST');
    assert.ok(a, 'the POST access line');
    assert.equal(a.bytes_in, JSON.stringify({ email: 'a@b.c', name: 'x' }).length);
    assert.equal(a.bytes_out, r.body.length);
  });
});

describe('text access line', () => {
  test('carries the new fields in key=value form', T, async () => {
    const up = await startUpstream();
    const px = await startProxy({ upstream: up, args: ARGS, env: BASE_ENV });
    try {
      await request(px.restUrl, '/v1/v2/oauth-clients/c/users/9', { headers: { traceparent: TP, 'user-agent': 'a b' } });
      const line = await px.waitForLine(/capproxy: access: .*path=\/v1\/v2\/oauth-clients\/c\/users\/9/, 5000 * SCALE);
      assert.match(line, / client=127\.0\.0\.1 bytes_in=0 bytes_out=\d+ upstream_addr=127\.0\.0\.1:\d+ upstream_ms=[\d.]+ trace_id=4bf92f3577b34da6a3ce929d0e0e4736 user_agent=a%20b/);
    } finally {
      await stopClean(px);
      await up.close();
    }
  });
});

describe('OTLP export', () => {
  test('server and client spans reach the collector as OTLP JSON', T, async () => {
    const col = await startCollector();
    const up = await startUpstream();
    const px = await startProxy({
      upstream: up,
      args: ARGS,
      env: { ...BASE_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: col.base, OTEL_SERVICE_NAME: 'capproxy-test', CAPPROXY_WORKERS: '1' },
    });
    try {
      const r = await request(px.restUrl, '/v1/v2/oauth-clients/c/users/5', { headers: { traceparent: TP, authorization: 'Bearer sekrit-token' } });
      assert.equal(r.status, 200);
      // unsampled caller: nothing exported for it
      await request(px.restUrl, '/v1/v2/oauth-clients/c/users/6', { headers: { traceparent: TP.replace(/-01$/, '-00') } });
      // the default flush interval is 5 s; the spans arrive within it
      await waitFor(() => col.spans.length >= 2, 10_000 * SCALE, 'two spans at the collector');
      const server = col.spans.find((s) => s.kind === 2);
      const client = col.spans.find((s) => s.kind === 3);
      assert.ok(server && client, JSON.stringify(col.spans));
      assert.equal(server.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(server.parentSpanId, '00f067aa0ba902b7');
      assert.equal(client.traceId, server.traceId);
      assert.equal(client.parentSpanId, server.spanId);
      const hop = TP_RE.exec(up.requests.find((q) => q.path === '/v2/oauth-clients/c/users/5').headers.traceparent);
      assert.equal(client.spanId, hop[2], 'the client span is the hop sent upstream');
      assert.match(server.startTimeUnixNano, /^\d{19}$/);
      assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano));
      assert.ok(Math.abs(Number(BigInt(server.startTimeUnixNano) / 1000000n) - Date.now()) < 60_000, 'unix nanos');
      assert.equal(server.attrs['http.request.method'], 'GET');
      assert.equal(server.attrs['url.path'], '/v1/v2/oauth-clients/c/users/5');
      assert.equal(server.attrs['http.response.status_code'], 200);
      assert.equal(client.attrs['server.address'], '127.0.0.1');
      assert.equal(client.attrs['server.port'], Number(new URL(up.url).port));
      assert.equal(client.attrs['http.response.status_code'], 200);
      assert.equal(server.resource['service.name'], 'capproxy-test');
      assert.equal(server.scope.name, 'capproxy');
      const all = JSON.stringify(col.bodies);
      assert.ok(!all.includes('sekrit') && !all.includes('sk-capproxy'), 'no header or secret exported');
      assert.ok(!col.spans.some((s) => s.attrs['url.path'] === '/v1/v2/oauth-clients/c/users/6'), 'unsampled not exported');
      const m = await request(px.adminUrl, '/metrics');
      assert.match(m.text, /capproxy_otlp_spans_total\{outcome="exported"\} [2-9]/);
    } finally {
      await stopClean(px);
      await up.close();
      await col.close();
    }
  });

  test('spans still waiting are flushed on shutdown', T, async () => {
    const col = await startCollector();
    const up = await startUpstream();
    const px = await startProxy({
      upstream: up,
      args: ARGS,
      env: { ...BASE_ENV, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: col.url, CAPPROXY_WORKERS: '1' },
    });
    try {
      await request(px.restUrl, '/v1/v2/oauth-clients/c/users/7');
      assert.equal(col.spans.length, 0, 'not yet: the interval is 5 s');
    } finally {
      await stopClean(px);
    }
    assert.equal(col.spans.length, 2, 'server and client span flushed at SIGTERM');
    await up.close();
    await col.close();
  });

  test('a dead collector: spans dropped and counted, requests stay fast', T, async () => {
    const port = await closedPort();
    const up = await startUpstream();
    const px = await startProxy({
      upstream: up,
      args: ARGS,
      env: { ...BASE_ENV, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`, CAPPROXY_WORKERS: '1' },
    });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 300; i++) {
        const r = await request(px.restUrl, `/v1/v2/oauth-clients/c/users/${i}`);
        assert.equal(r.status, 200);
      }
      const ms = Date.now() - t0;
      assert.ok(ms < 15_000 * SCALE, `300 requests took ${ms} ms`);
      // 600 spans: one batch of 512 goes at once and fails; the rest waits for the interval
      await waitFor(() => px.lines.some((l) => /otlp: export to .* failed/.test(l)), 10_000 * SCALE, 'the export failure warning');
      const m = await request(px.adminUrl, '/metrics');
      const got = /capproxy_otlp_spans_total\{outcome="export_failed"\} (\d+)/.exec(m.text);
      assert.ok(got && Number(got[1]) >= 512, m.text.split('\n').filter((l) => /otlp/.test(l)).join('\n'));
    } finally {
      await stopClean(px);
      await up.close();
    }
  });

  test('a full queue drops new spans with queue_full', T, async () => {
    const port = await closedPort();
    const up = await startUpstream();
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-trace-'));
    const cfg = path.join(dir, 'c.yaml');
    fs.writeFileSync(
      cfg,
      'consumers:\n  - namespace: "cal-com-*"\n    baseUri: ${CAL_COM_BASE_URI}\n' +
        '    credentials:\n      - header: x-cal-secret-key\n        fromEnv: CAL_COM_CLIENT_SECRET\n' +
        `tracing:\n  otlpEndpoint: http://127.0.0.1:${port}/v1/traces\n  queueSize: 10\n  batchSize: 100\n  flushInterval: 10m\n`,
    );
    let px;
    try {
      px = await startProxy({ upstream: up, args: ['-c', cfg, 'capabilities/cal-com-managed-users.yaml'], env: { ...BASE_ENV, CAPPROXY_WORKERS: '1' } });
      // 10 requests, a server and a client span each: 10 fit, 10 are dropped
      for (let i = 0; i < 10; i++) assert.equal((await request(px.restUrl, `/v1/v2/oauth-clients/c/users/${i}`)).status, 200);
      const m = await request(px.adminUrl, '/metrics');
      assert.match(m.text, /capproxy_otlp_spans_total\{outcome="queue_full"\} 10\b/);
    } finally {
      if (px) await stopClean(px);
      await up.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad tracing setting is refused with its position', T, async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { runCapproxy } = await import('./capproxy.mjs');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-trace-'));
    const cfg = path.join(dir, 'c.yaml');
    fs.writeFileSync(cfg, 'tracing:\n  otlpEndpoint: collector:4318\n  batchSiz: 3\n');
    try {
      const r = await runCapproxy(['validate', '-c', cfg, 'capabilities/cal-com-managed-users.yaml'], { env: BASE_ENV });
      const out = `${r.stdout}${r.stderr}`;
      assert.notEqual(r.code, 0, out);
      assert.match(out, /c\.yaml:2:\d+: .*'otlpEndpoint' expects an http:\/\/ or https:\/\/ URL/);
      assert.match(out, /c\.yaml:3:\d+: .*batchSiz.*batchSize/);
      // credentials in the endpoint are refused without being echoed
      fs.writeFileSync(cfg, 'tracing:\n  otlpEndpoint: http://user:s3cret-pw@collector:4318/v1/traces\n');
      const r2 = await runCapproxy(['validate', '-c', cfg, 'capabilities/cal-com-managed-users.yaml'], { env: BASE_ENV });
      const out2 = `${r2.stdout}${r2.stderr}`;
      assert.notEqual(r2.code, 0, out2);
      assert.match(out2, /c\.yaml:2:\d+: .*must not carry user:password@/);
      assert.ok(!out2.includes('s3cret-pw'), out2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
