// Resilience (issue 12 items 1-3): retries, the circuit breaker and the per-API concurrency cap,
// with the real capproxy binary (2 workers), tests/data/resil/ and three recording upstreams
// that misbehave on command. Attempts are counted upstream; timings are checked with generous
// bounds.
// Run: cd tests/integration && node --test resilience.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { rpc, openSession, req } from './mcp-helpers.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 20_000 * SCALE };
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** The value of one Prometheus sample (0 when absent). */
function sample(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = inner.split(/,(?=[a-z_]+=")/);
    if (want.every((w) => have.includes(w)) && have.length === want.length)
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** A handler failing the first <n> requests with <fail>, then answering 200. */
function failFirst(n, fail) {
  let seen = 0;
  return () => (++seen <= n ? fail : { status: 200, body: { ok: true, attempt: seen } });
}

describe('resilience', () => {
  let flaky;
  let guarded;
  let narrow;
  let px;

  before(async () => {
    flaky = await startUpstream();
    guarded = await startUpstream();
    narrow = await startUpstream();
    px = await startProxy({
      args: ['-c', 'tests/data/resil/capproxy.yaml', 'tests/data/resil/resil.yaml'],
      env: {
        CPX_FLAKY_BASE: flaky.url,
        CPX_GUARDED_BASE: guarded.url,
        CPX_NARROW_BASE: narrow.url,
        CAPPROXY_WORKERS: '2',
      },
    });
  });
  after(async () => {
    const r = await px?.stop?.();
    await flaky?.close();
    await guarded?.close();
    await narrow?.close();
    assert.equal(r?.sanitizer ?? null, null, `sanitizer report:\n${r?.sanitizer}`);
    assert.equal(r?.code, 0, `capproxy exit code; tail:\n${px?.lines.slice(-20).join('\n')}`);
  });
  beforeEach(() => {
    flaky.reset();
    guarded.reset();
    narrow.reset();
  });

  const metrics = async () => (await request(px.adminUrl, '/metrics')).text;

  test('GET: 503, 503, 200 is retried twice with jittered back-off, the caller sees 200', T, async () => {
    flaky.handle(failFirst(2, { status: 503, body: { error: 'busy' } }));
    const t0 = Date.now();
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.attempt, 3);
    assert.equal(flaky.requests.length, 3);
    const [a, b, c] = flaky.requests.map((q) => q.time);
    // full jitter: retry 1 waits 0..200 ms, retry 2 0..400 ms (plus scheduling slack)
    assert.ok(b - a <= 200 + 300 * SCALE, `first back-off ${b - a} ms`);
    assert.ok(c - b <= 400 + 300 * SCALE, `second back-off ${c - b} ms`);
    assert.ok(Date.now() - t0 < 3000 * SCALE);
  });

  test('GET: retries are bounded (2), then the last 503 goes back as it came', T, async () => {
    flaky.handle(() => ({ status: 503, body: { error: 'still busy' } }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'still busy');
    assert.equal(flaky.requests.length, 3);
  });

  test('Retry-After in seconds is honoured: the retry waits that long', T, async () => {
    flaky.handle(failFirst(1, { status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down' } }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 200, r.text);
    assert.equal(flaky.requests.length, 2);
    const gap = flaky.requests[1].time - flaky.requests[0].time;
    assert.ok(gap >= 950 && gap < 1000 + 1000 * SCALE, `Retry-After 1 s, waited ${gap} ms`);
  });

  test('Retry-After as an HTTP date is honoured', T, async () => {
    const at = new Date(Date.now() + 2000).toUTCString(); // whole seconds: 1-2 s from now
    flaky.handle(failFirst(1, { status: 503, headers: { 'retry-after': at }, body: {} }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 200, r.text);
    const gap = flaky.requests[1].time - flaky.requests[0].time;
    assert.ok(gap >= 900 && gap < 2000 + 1000 * SCALE, `Retry-After ${at}, waited ${gap} ms`);
  });

  test('a Retry-After beyond the deadline: the 429 goes back at once, with its header', T, async () => {
    flaky.handle(() => ({ status: 429, headers: { 'retry-after': '60' }, body: { error: 'quota' } }));
    const t0 = Date.now();
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '60');
    assert.equal(flaky.requests.length, 1);
    assert.ok(Date.now() - t0 < 1000 * SCALE);
  });

  test('a reset before any response byte is retried', T, async () => {
    // Two resets: the first may be taken by upstream.c's dead-connection retry (a reused
    // connection), the second always reaches the resilience layer.
    flaky.handle(failFirst(2, { destroy: true }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 200, r.text);
    assert.equal(flaky.requests.length, 3);
  });

  test('never retried once the upstream started to answer (status line, then reset)', T, async () => {
    flaky.handle(() => ({ status: 200, cutAfterHead: true }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 502, r.text);
    await sleep(300);
    assert.equal(flaky.requests.length, 1);
  });

  test('a 500 is not a retry cause', T, async () => {
    flaky.handle(() => ({ status: 500, body: { error: 'bug' } }));
    const r = await request(px.restUrl, '/items');
    assert.equal(r.status, 500);
    assert.equal(flaky.requests.length, 1);
  });

  test('POST is not retried', T, async () => {
    flaky.handle(() => ({ status: 503, body: { error: 'busy' } }));
    const r = await request(px.restUrl, '/orders', { method: 'POST', body: { item: 'a' } });
    assert.equal(r.status, 503, r.text);
    await sleep(500);
    assert.equal(flaky.requests.length, 1);
  });

  test('MCP: a POST tool is retried only when hints.idempotent says so', T, async () => {
    const { session } = await openSession(px);
    flaky.handle(failFirst(1, { status: 503, body: { error: 'busy' } }));
    const plain = await rpc(px, req('tools/call', { name: 'create-order', arguments: { item: 'x' } }), { session });
    assert.equal(plain.msg.result.isError, true, JSON.stringify(plain.msg));
    await sleep(500);
    assert.equal(flaky.requests.length, 1);

    flaky.reset();
    flaky.handle(failFirst(1, { status: 503, body: { error: 'busy' } }));
    const idem = await rpc(px, req('tools/call', { name: 'put-order', arguments: { item: 'x' } }), { session });
    assert.notEqual(idem.msg.result.isError, true, JSON.stringify(idem.msg));
    assert.equal(flaky.requests.length, 2);
    assert.equal(flaky.requests[1].method, 'POST');
  });

  test('a client that goes away during the back-off cancels the retry', T, async () => {
    flaky.handle(() => ({ status: 503, headers: { 'retry-after': '2' }, body: {} }));
    await assert.rejects(request(px.restUrl, '/items', { timeoutMs: 400 }));
    await sleep(2500);
    assert.equal(flaky.requests.length, 1);
  });

  test('retries show in /metrics by API and cause', T, async () => {
    const m = await metrics();
    assert.ok(sample(m, 'capproxy_upstream_retries_total', { api: 'flaky', reason: '503' }) >= 3, m);
    assert.ok(sample(m, 'capproxy_upstream_retries_total', { api: 'flaky', reason: '429' }) >= 1);
    assert.ok(sample(m, 'capproxy_upstream_retries_total', { api: 'flaky', reason: 'reset' }) >= 1);
  });

  test('circuit breaker: opens after 3 failures, 503 at once, a probe closes it', T, async () => {
    guarded.handle(() => ({ status: 500, body: { error: 'down' } }));
    for (let i = 0; i < 3; i++) assert.equal((await request(px.restUrl, '/status')).status, 500);
    assert.equal(guarded.requests.length, 3);
    const host = `http://127.0.0.1:${guarded.port}`;

    // open: both workers answer at once without reaching the upstream
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      const r = await request(px.restUrl, '/status');
      assert.equal(r.status, 503, r.text);
      assert.ok(Date.now() - t0 < 500 * SCALE);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
      assert.equal(r.json.reason, 'circuit_open');
      assert.equal(r.json.api, 'guarded');
      assert.match(r.json.detail, /circuit breaker for API 'guarded' is open/);
      assert.ok(Number(r.headers['retry-after']) >= 1 && Number(r.headers['retry-after']) <= 1);
    }
    assert.equal(guarded.requests.length, 3);
    assert.ok(px.lines.some((l) => /circuit breaker for .* \(API guarded\) opened after 3/.test(l)), 'warned');
    let m = await metrics();
    assert.equal(sample(m, 'capproxy_circuit_state', { host }), 1, m);
    assert.equal(sample(m, 'capproxy_circuit_transitions_total', { host, to: 'open' }), 1);
    assert.ok(sample(m, 'capproxy_upstream_rejected_total', { api: 'guarded', reason: 'circuit_open' }) >= 4);

    // after the cool-down the upstream is back: one probe goes and closes it
    guarded.handle(() => ({ status: 200, body: { ok: true } }));
    await sleep(1200);
    const probe = await request(px.restUrl, '/status');
    assert.equal(probe.status, 200, probe.text);
    assert.equal(guarded.requests.length, 4);
    for (let i = 0; i < 3; i++) assert.equal((await request(px.restUrl, '/status')).status, 200);
    assert.equal(guarded.requests.length, 7);
    assert.ok(px.lines.some((l) => /circuit breaker for .* \(API guarded\) closed/.test(l)), 'closed logged');
    m = await metrics();
    assert.equal(sample(m, 'capproxy_circuit_state', { host }), 0);
    assert.equal(sample(m, 'capproxy_circuit_transitions_total', { host, to: 'half_open' }), 1);
    assert.equal(sample(m, 'capproxy_circuit_transitions_total', { host, to: 'closed' }), 1);
  });

  test('circuit breaker: a failed probe reopens it for twice the cool-down', T, async () => {
    guarded.handle(() => ({ status: 502, body: {} }));
    for (let i = 0; i < 3; i++) await request(px.restUrl, '/status');
    assert.equal((await request(px.restUrl, '/status')).status, 503);
    await sleep(1200);
    const n = guarded.requests.length;
    assert.equal((await request(px.restUrl, '/status')).status, 502); // the probe
    assert.equal(guarded.requests.length, n + 1);
    const r = await request(px.restUrl, '/status');
    assert.equal(r.json?.reason, 'circuit_open', r.text);
    assert.equal(r.headers['retry-after'], '2');
    guarded.handle(() => ({ status: 200, body: {} }));
    await sleep(2200);
    assert.equal((await request(px.restUrl, '/status')).status, 200);
  });

  test('concurrency cap: beyond maxConcurrent + queue, 503 queue_full with Retry-After: 1', T, async () => {
    let active = 0;
    let peak = 0;
    narrow.handle(async () => {
      active++;
      peak = Math.max(peak, active);
      await sleep(600);
      active--;
      return { status: 200, body: { ok: true } };
    });
    const rs = await Promise.all(Array.from({ length: 8 }, () => request(px.restUrl, '/slow')));
    const ok = rs.filter((r) => r.status === 200);
    const full = rs.filter((r) => r.status === 503);
    assert.equal(ok.length + full.length, 8, rs.map((r) => r.status).join(','));
    assert.ok(ok.length >= 2 && ok.length <= 4, `ok ${ok.length}`);
    assert.ok(peak <= 2, `at most 2 upstream at once, saw ${peak}`);
    for (const r of full) {
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.json.reason, 'queue_full');
    }
    const m = await metrics();
    assert.equal(sample(m, 'capproxy_upstream_rejected_total', { api: 'narrow', reason: 'queue_full' }), full.length);
    assert.equal(sample(m, 'capproxy_upstream_queue_length', { api: 'narrow' }), 0);
    assert.equal(sample(m, 'capproxy_upstream_active_calls', { api: 'narrow' }), 0);
    assert.ok(px.accessLines().some((l) => /queue_full/.test(l)), 'the access log says queue_full');
  });
});

describe('resilience: one worker', () => {
  let narrow;
  let px;
  before(async () => {
    narrow = await startUpstream();
    px = await startProxy({
      args: ['-c', 'tests/data/resil/capproxy.yaml', 'tests/data/resil/resil.yaml'],
      env: { CPX_FLAKY_BASE: narrow.url, CPX_GUARDED_BASE: narrow.url, CPX_NARROW_BASE: narrow.url, CAPPROXY_WORKERS: '1' },
    });
  });
  after(async () => {
    const r = await px?.stop?.();
    await narrow?.close();
    assert.equal(r?.sanitizer ?? null, null, `sanitizer report:\n${r?.sanitizer}`);
    assert.equal(r?.code, 0);
  });

  test('a queued call waits for a slot, and one whose client left never goes upstream', T, async () => {
    narrow.handle(async () => {
      await sleep(700);
      return { status: 200, body: { ok: true } };
    });
    const metrics = async () => (await request(px.adminUrl, '/metrics')).text;
    // maxConcurrent 2 on the one worker: two calls hold the slots, a third waits
    const held = [request(px.restUrl, '/slow'), request(px.restUrl, '/slow')];
    await narrow.waitForRequests(2);
    const gone = request(px.restUrl, '/slow', { timeoutMs: 200 }).catch(() => 'gone');
    await sleep(50);
    assert.equal(sample(await metrics(), 'capproxy_upstream_queue_length', { api: 'narrow' }), 1);
    assert.equal(await gone, 'gone');
    await sleep(100);
    assert.equal(sample(await metrics(), 'capproxy_upstream_queue_length', { api: 'narrow' }), 0);
    const waiting = request(px.restUrl, '/slow');
    const rs = await Promise.all([...held, waiting]);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.equal(narrow.requests.length, 3, 'the abandoned call never went upstream');
    assert.equal(sample(await metrics(), 'capproxy_upstream_active_calls', { api: 'narrow' }), 0);
  });
});
