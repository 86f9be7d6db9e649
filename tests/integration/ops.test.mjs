// Operations integration tests: the admin listener (/healthz, /readyz, /metrics and the exact
// movement of its counters), graceful SIGTERM drain, SIGHUP reload (valid and invalid document
// sets), JSON logs and request ids, and MCP session ids shared between processes.
// Run: cd tests/integration && node --test ops.test.mjs   (CAPPROXY_BIN=build-asan/capproxy for ASan)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

import { startUpstream, closedPort } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot, sanitizerReport, SANITIZER_PATTERNS } from './capproxy.mjs';
import { request } from './client.mjs';
import { rpc, openSession, req, show } from './mcp-helpers.mjs';

const SECRET = 'sk-capproxy-OPS-0c1d2e3f4a5b6c7d8e9f';

// every test is bounded; a slow (sanitizer) build gets more room
const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const T_LONG = { timeout: 60_000 * SCALE };

const SEED = path.join(repoRoot, 'capabilities', 'cal-com-managed-users.yaml');
const SEED_ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-managed-users.yaml'];
const BASE_ENV = { CAL_COM_CLIENT_SECRET: SECRET };

const R_LIST = 'oauthclientuserscontrollergetmanagedusers';
const R_GET = 'oauthclientuserscontrollergetuserbyid';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

function describeRes(r) {
  return `${r.status} ${JSON.stringify(r.headers)} ${String(r.text).slice(0, 400)}`;
}

async function stopAll(...things) {
  for (const t of things) {
    if (!t) continue;
    try {
      if (t.stop) await t.stop();
      else if (t.close) await t.close();
    } catch {
      /* best effort */
    }
  }
}

/** Stop the proxy and check it exited 0 with no sanitizer report. */
async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
  assert.equal(r.killed, false, 'capproxy had to be killed');
  assert.equal(r.code, 0, `exit code; stderr tail:\n${px.lines.slice(-20).join('\n')}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format

function unescapeLabel(s) {
  return s.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
}

/** Parse the Prometheus text exposition: Map "name{k="v",...}" (labels sorted) -> number. */
function parseProm(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    assert.ok(m, `a valid Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
      let rest = m[2];
      let lm;
      let consumed = 0;
      while ((lm = re.exec(rest))) {
        labels[lm[1]] = unescapeLabel(lm[2]);
        consumed = re.lastIndex;
      }
      assert.equal(consumed, rest.length, `labels fully parsed: ${JSON.stringify(line)}`);
    }
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(v) || m[3] === 'NaN', `numeric sample value: ${JSON.stringify(line)}`);
    out.set(key(m[1], labels), v);
  }
  return out;
}

function key(name, labels = {}) {
  const ks = Object.keys(labels).sort();
  return `${name}{${ks.map((k) => `${k}=${JSON.stringify(String(labels[k]))}`).join(',')}}`;
}

const val = (map, name, labels) => map.get(key(name, labels)) ?? 0;

/** The series of `name` whose value changed between a and b: Map key -> delta. */
function deltas(a, b, name) {
  const d = new Map();
  for (const [k, v] of b) {
    if (!k.startsWith(`${name}{`)) continue;
    const dv = v - (a.get(k) ?? 0);
    if (dv !== 0) d.set(k, dv);
  }
  for (const [k] of a) if (k.startsWith(`${name}{`) && !b.has(k)) d.set(k, -a.get(k));
  return d;
}

function mapObj(m) {
  return Object.fromEntries([...m].sort(([x], [y]) => (x < y ? -1 : 1)));
}

async function scrape(px) {
  const r = await request(px.adminUrl, '/metrics');
  assert.equal(r.status, 200, `GET /metrics: ${describeRes(r)}`);
  assert.match(String(r.headers['content-type'] || ''), /^text\/plain/, 'metrics content type');
  return { text: r.text, m: parseProm(r.text) };
}

// ---------------------------------------------------------------------------------------------
// sockets

/** Try a TCP connection: 'connected' | error code (e.g. 'ECONNREFUSED'). */
function tryConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e) => {
      clearTimeout(t);
      resolve(e.code || String(e));
    });
  });
}

// =============================================================================================
// 1. admin endpoints and metrics

describe('admin listener: /healthz, /readyz, /metrics', () => {
  let up;
  let px; // upstream reachable, 300 ms upstream time-out
  let pxDown; // upstream at a closed port

  before(async () => {
    up = await startUpstream();
    up.handle((rec) => {
      const m = /^\/v2\/oauth-clients\/([^/]+)\/users\/([^/]+)$/.exec(rec.path);
      if (m && m[2] === '404') return { status: 404, body: { status: 'error', error: { code: 'NotFound', id: m[2] } } };
      if (m && m[2] === '999') return { delayMs: 3000, status: 200, body: { late: true } };
      if (m) return { status: 200, body: { status: 'success', data: { clientId: m[1], id: Number(m[2]) } } };
      return null;
    });
    px = await startProxy({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_UPSTREAM_TIMEOUT: '300ms' } });
    const port = await closedPort();
    pxDown = await startProxy({ upstream: `http://127.0.0.1:${port}`, args: SEED_ARGS, env: BASE_ENV });
    assert.ok(px.adminUrl, 'the admin listening line was parsed');
    assert.ok(pxDown.adminUrl, 'the admin listening line was parsed (second proxy)');
  });

  after(async () => {
    await stopAll(px, pxDown, up);
  });

  test('/healthz and /readyz answer 200 JSON while serving', T, async () => {
    const h = await request(px.adminUrl, '/healthz');
    assert.equal(h.status, 200, `/healthz: ${describeRes(h)}`);
    assert.match(String(h.headers['content-type'] || ''), /^application\/json/, '/healthz content type');
    assert.deepEqual(h.json, { status: 'ok' });
    const r = await request(px.adminUrl, '/readyz');
    assert.equal(r.status, 200, `/readyz: ${describeRes(r)}`);
    assert.match(String(r.headers['content-type'] || ''), /^application\/json/, '/readyz content type');
    assert.deepEqual(r.json, { status: 'ready' });
  });

  test('/metrics carries build info and the gauges', T, async () => {
    const { text, m } = await scrape(px);
    const ver = /^capproxy_build_info\{version="([^"]+)"\} 1$/m.exec(text);
    assert.ok(ver, `capproxy_build_info{version=...} 1 in:\n${text.slice(0, 800)}`);
    assert.match(ver[1], /^\d+\.\d+\.\d+/, 'version label looks like a version');
    assert.equal(val(m, 'capproxy_ready'), 1, 'capproxy_ready');
    assert.ok(m.has(key('capproxy_inflight_requests')), 'capproxy_inflight_requests present');
    assert.ok(m.has(key('capproxy_client_connections')), 'capproxy_client_connections present');
    assert.equal(val(m, 'capproxy_inflight_requests'), 0, 'nothing in flight');
    for (const name of ['capproxy_requests_total', 'capproxy_upstream_duration_seconds', 'capproxy_upstream_errors_total', 'capproxy_mcp_tool_calls_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} (counter|histogram)$`, 'm'), `# TYPE line for ${name}`);
    }
  });

  test('REST counters move by exactly the requests made', T, async () => {
    const before1 = (await scrape(px)).m;
    const before2 = (await scrape(pxDown)).m;

    const get = (p, base = px.restUrl) => request(base, p);
    for (const id of [1, 2, 3]) {
      const r = await get(`/v1/v2/oauth-clients/c1/users/${id}`);
      assert.equal(r.status, 200, `GET user ${id}: ${describeRes(r)}`);
      assert.deepEqual(r.json, { status: 'success', data: { clientId: 'c1', id } });
    }
    for (const p of ['/nope', '/v1/v2/not-a-route']) {
      const r = await get(p);
      assert.equal(r.status, 404, `GET ${p}: ${describeRes(r)}`);
    }
    const nf = await get('/v1/v2/oauth-clients/c1/users/404');
    assert.equal(nf.status, 404, `upstream 404 passthrough: ${describeRes(nf)}`);
    assert.equal(nf.json?.error?.code, 'NotFound', 'the upstream 404 body comes back');
    const slow = await get('/v1/v2/oauth-clients/c1/users/999');
    assert.equal(slow.status, 504, `upstream time-out: ${describeRes(slow)}`);
    const down = await get('/v1/v2/oauth-clients/c1/users/5', pxDown.restUrl);
    assert.equal(down.status, 502, `upstream down: ${describeRes(down)}`);
    assert.equal(down.json?.upstream_error, 'refused', `502 problem names the kind: ${down.text}`);

    const after1 = (await scrape(px)).m;
    const after2 = (await scrape(pxDown)).m;

    const rq = (route, status) => key('capproxy_requests_total', { adapter: 'rest', route, method: 'GET', status: String(status) });
    assert.deepEqual(
      mapObj(deltas(before1, after1, 'capproxy_requests_total')),
      mapObj(new Map([[rq(R_GET, 200), 3], [rq('', 404), 2], [rq(R_GET, 404), 1], [rq(R_GET, 504), 1]])),
      'capproxy_requests_total deltas (proxy 1)',
    );
    assert.deepEqual(
      mapObj(deltas(before2, after2, 'capproxy_requests_total')),
      mapObj(new Map([[rq(R_GET, 502), 1]])),
      'capproxy_requests_total deltas (proxy 2, upstream down)',
    );
    assert.deepEqual(
      mapObj(deltas(before1, after1, 'capproxy_upstream_errors_total')),
      { [key('capproxy_upstream_errors_total', { kind: 'timeout' })]: 1 },
      'capproxy_upstream_errors_total deltas (proxy 1)',
    );
    assert.deepEqual(
      mapObj(deltas(before2, after2, 'capproxy_upstream_errors_total')),
      { [key('capproxy_upstream_errors_total', { kind: 'refused' })]: 1 },
      'capproxy_upstream_errors_total deltas (proxy 2)',
    );

    // the histogram: 5 transfers on proxy 1 (3 x 200, the 404, the time-out), 1 on proxy 2
    const count = (m, r) => val(m, 'capproxy_upstream_duration_seconds_count', { route: r });
    const sum = (m, r) => val(m, 'capproxy_upstream_duration_seconds_sum', { route: r });
    const bucket = (m, r, le) => val(m, 'capproxy_upstream_duration_seconds_bucket', { route: r, le });
    assert.equal(count(after1, R_GET) - count(before1, R_GET), 5, 'upstream duration _count delta (proxy 1)');
    assert.equal(bucket(after1, R_GET, '+Inf') - bucket(before1, R_GET, '+Inf'), 5, 'le="+Inf" bucket delta (proxy 1)');
    assert.equal(count(after2, R_GET) - count(before2, R_GET), 1, 'upstream duration _count delta (proxy 2)');
    const dsum = sum(after1, R_GET) - sum(before1, R_GET);
    assert.ok(dsum >= 0.29 && dsum < 10, `_sum delta includes the 300 ms time-out: ${dsum}`);
    // the time-out is not in the le=0.25 bucket; everything is in le=+Inf; buckets are cumulative
    assert.ok(bucket(after1, R_GET, '0.25') - bucket(before1, R_GET, '0.25') <= 4, 'the time-out is above 0.25 s');
    const les = [...after1.keys()]
      .filter((k) => k.startsWith('capproxy_upstream_duration_seconds_bucket{') && k.includes(`route="${R_GET}"`))
      .map((k) => ({ le: /le="([^"]+)"/.exec(k)[1], v: after1.get(k) }))
      .map((b) => ({ le: b.le === '+Inf' ? Infinity : Number(b.le), v: b.v }))
      .sort((a, b) => a.le - b.le);
    assert.ok(les.length >= 2, 'several buckets');
    for (let i = 1; i < les.length; i++) assert.ok(les[i].v >= les[i - 1].v, `buckets are cumulative: ${JSON.stringify(les)}`);
    // no upstream transfer for the list route or the unmatched requests
    assert.equal(count(after1, R_LIST) - count(before1, R_LIST), 0, 'no transfer recorded for another route');
    assert.equal(count(after1, '') - count(before1, ''), 0, 'no transfer recorded for unmatched requests');
  });

  test('gauges return to zero after the requests', T, async () => {
    let m;
    const deadline = Date.now() + 3000 * SCALE;
    do {
      m = (await scrape(px)).m;
      // the scrape itself is on the admin listener: it is not a client connection of the adapters
      if (val(m, 'capproxy_inflight_requests') === 0 && val(m, 'capproxy_client_connections') === 0) break;
      await sleep(50);
    } while (Date.now() < deadline);
    assert.equal(val(m, 'capproxy_inflight_requests'), 0, 'capproxy_inflight_requests');
    assert.equal(val(m, 'capproxy_client_connections'), 0, 'capproxy_client_connections');
  });

  test('MCP tools/call outcomes are counted (ok, tool_error, invalid_arguments, upstream_error)', T, async () => {
    const b1 = (await scrape(px)).m;
    const b2 = (await scrape(pxDown)).m;
    const s1 = await openSession(px);
    const s2 = await openSession(pxDown);
    const call = (p, s, args) => rpc(p, req('tools/call', { name: 'get-managed-user', arguments: args }), { session: s.session, version: s.version });

    const ok = await call(px, s1, { clientId: 'c1', userId: 7 });
    assert.equal(ok.status, 200, show(ok));
    assert.notEqual(ok.msg?.result?.isError, true, `ok call: ${show(ok)}`);
    const te = await call(px, s1, { clientId: 'c1', userId: 404 });
    assert.equal(te.status, 200, show(te));
    assert.equal(te.msg?.result?.isError, true, `upstream 404 is a tool error: ${show(te)}`);
    const bad = await call(px, s1, { clientId: 'c1', userId: 'not-a-number' });
    assert.equal(bad.status, 200, show(bad));
    assert.ok(bad.msg?.error || bad.msg?.result?.isError === true, `invalid arguments are refused: ${show(bad)}`);
    const ue = await call(pxDown, s2, { clientId: 'c1', userId: 7 });
    assert.equal(ue.status, 200, show(ue));
    assert.equal(ue.msg?.result?.isError, true, `unreachable upstream is an error result: ${show(ue)}`);

    const a1 = (await scrape(px)).m;
    const a2 = (await scrape(pxDown)).m;
    const tc = (outcome) => key('capproxy_mcp_tool_calls_total', { tool: 'get-managed-user', outcome });
    assert.deepEqual(
      mapObj(deltas(b1, a1, 'capproxy_mcp_tool_calls_total')),
      mapObj(new Map([[tc('ok'), 1], [tc('tool_error'), 1], [tc('invalid_arguments'), 1]])),
      'capproxy_mcp_tool_calls_total deltas (proxy 1)',
    );
    assert.deepEqual(
      mapObj(deltas(b2, a2, 'capproxy_mcp_tool_calls_total')),
      mapObj(new Map([[tc('upstream_error'), 1]])),
      'capproxy_mcp_tool_calls_total deltas (proxy 2)',
    );
    // MCP requests are counted under adapter="mcp", never under "rest"
    const restMoved = [...deltas(b1, a1, 'capproxy_requests_total').keys()].filter((k) => k.includes('adapter="rest"'));
    assert.deepEqual(restMoved, [], 'no REST request counted for MCP traffic');
    const mcpMoved = [...deltas(b1, a1, 'capproxy_requests_total')].filter(([k]) => k.includes('adapter="mcp"'));
    assert.ok(mcpMoved.length > 0, `MCP requests are counted under adapter="mcp": ${JSON.stringify(mapObj(deltas(b1, a1, 'capproxy_requests_total')))}`);
  });

  test('both proxies stop cleanly', T, async () => {
    await stopClean(px);
    await stopClean(pxDown);
  });
});

// =============================================================================================
// 2. SIGTERM drain

describe('SIGTERM: graceful drain', () => {
  let up;
  let px;

  before(async () => {
    up = await startUpstream();
    up.handle((rec) => {
      const m = /^\/v2\/oauth-clients\/drain\/users\/(\d+)$/.exec(rec.path);
      if (!m) return null;
      const i = Number(m[1]);
      return { delayMs: 1500, status: i % 5 === 0 ? 404 : i % 2 ? 200 : 202, body: { i, tag: `answer-${i}` } };
    });
    px = await startProxy({ upstream: up, args: SEED_ARGS, env: BASE_ENV });
  });

  after(async () => {
    await stopAll(px, up);
  });

  test('50 slow in-flight requests finish, /readyz 503, new connections refused, exit 0', T_LONG, async () => {
    const N = 50;
    const restPort = px.rest.port;
    const done = [];
    let firstDoneAt = null;
    const reqs = [];
    for (let i = 1; i <= N; i++) {
      reqs.push(
        request(px.restUrl, `/v1/v2/oauth-clients/drain/users/${i}`, { agent: false, timeoutMs: 20_000 * SCALE }).then(
          (r) => {
            firstDoneAt ??= Date.now();
            done.push(i);
            return r;
          },
          (e) => ({ error: e }),
        ),
      );
    }
    await up.waitForRequests(N, 10_000 * SCALE);
    assert.equal(done.length, 0, 'nothing answered before the upstream did');

    // before SIGTERM: all 50 counted in flight
    const m0 = (await scrape(px)).m;
    assert.equal(val(m0, 'capproxy_inflight_requests'), N, 'capproxy_inflight_requests while the 50 wait');
    assert.equal(val(m0, 'capproxy_ready'), 1, 'capproxy_ready before SIGTERM');

    const t0 = Date.now();
    px.child.kill('SIGTERM');

    // /readyz turns 503 {"status":"draining"}
    let ready;
    let readyAt;
    for (let k = 0; k < 100; k++) {
      ready = await request(px.adminUrl, '/readyz', { timeoutMs: 1000 }).catch((e) => ({ status: null, error: e, text: String(e), headers: {} }));
      if (ready.status === 503) {
        readyAt = Date.now();
        break;
      }
      await sleep(10);
    }
    assert.equal(ready.status, 503, `/readyz during the drain: ${ready.error || describeRes(ready)}`);
    assert.deepEqual(ready.json, { status: 'draining' }, '/readyz body during the drain');
    assert.ok(firstDoneAt === null || readyAt < firstDoneAt, '/readyz was 503 while requests were still in flight');
    const md = (await scrape(px).catch(() => null))?.m;
    if (md) assert.equal(val(md, 'capproxy_ready'), 0, 'capproxy_ready during the drain');

    // new connections to the REST port are refused (every worker's listener closed)
    let conn;
    let refusedAt;
    for (let k = 0; k < 100; k++) {
      conn = await tryConnect(restPort);
      if (conn === 'ECONNREFUSED') {
        refusedAt = Date.now();
        break;
      }
      await sleep(10);
    }
    assert.equal(conn, 'ECONNREFUSED', `a new connection to the REST port after SIGTERM: ${conn}`);
    assert.ok(refusedAt - t0 < 1000 * SCALE, `refused shortly after SIGTERM (${refusedAt - t0} ms)`);
    assert.ok(firstDoneAt === null || refusedAt <= firstDoneAt, 'refused while requests were still in flight');
    // stays refused (a few more tries)
    for (let k = 0; k < 5; k++) assert.equal(await tryConnect(restPort), 'ECONNREFUSED', 'stays refused during the drain');

    // every in-flight request gets the upstream's answer
    const res = await Promise.all(reqs);
    for (let i = 1; i <= N; i++) {
      const r = res[i - 1];
      assert.ok(!r.error, `request ${i} failed: ${r.error}`);
      const want = i % 5 === 0 ? 404 : i % 2 ? 200 : 202;
      assert.equal(r.status, want, `request ${i} status: ${describeRes(r)}`);
      assert.deepEqual(r.json, { i, tag: `answer-${i}` }, `request ${i} body`);
      assert.equal(String(r.headers.connection || '').toLowerCase(), 'close', `request ${i}: Connection: close during the drain; ${JSON.stringify(r.headers)}`);
    }
    assert.equal(up.requests.filter((r) => r.aborted).length, 0, 'no upstream transfer was cut');

    const ex = await px.waitExit(12_000 * SCALE);
    assert.equal(ex.code, 0, `exit code after the drain; stderr tail:\n${px.lines.slice(-15).join('\n')}`);
    assert.equal(ex.signal, null, 'exited by itself, not by a signal');
    assert.ok(Date.now() - t0 < 8000 * SCALE, `exited once the drain was over, not at the drain time-out (${Date.now() - t0} ms)`);
    assert.equal(sanitizerReport(px.lines), null, `sanitizer report:\n${sanitizerReport(px.lines)}`);
    assert.equal(px.accessLines().length, N, 'one access line per drained request');
  });
});

// =============================================================================================
// 3. SIGHUP reload

function extraDocument(seedText) {
  // the seed without its MCP adapter, with every name and the exposed prefix changed
  let s = seedText.split('\n  - type: mcp\n')[0] + '\n';
  s = s
    .replaceAll('cal-com-deprecated-platform-managed-users', 'cal-com-extra-users')
    .replaceAll('oauthclientuserscontroller', 'extrauserscontroller')
    .replaceAll('oauthflowcontroller', 'extraflowcontroller')
    .replaceAll('path: /v1/v2/', 'path: /v1/extra/');
  assert.ok(s.includes('path: /v1/extra/oauth-clients/{clientid}/users/{userid}'), 'the extra document has the new prefix');
  assert.ok(!s.includes('type: mcp'), 'the extra document has no MCP adapter');
  return s;
}

const BROKEN_YAML = [
  'naftiko: 1.0.0-alpha2',
  'info:',
  '  label: broken',
  'capability:',
  '  consumes: [',
  '    {type: http, namespace: "x"',
  '  exposes: {',
  '',
].join('\n');

describe('SIGHUP: reload', () => {
  let up;
  let px;
  let dir;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-ops-'));
    fs.copyFileSync(SEED, path.join(dir, 'a-seed.yaml'));
    up = await startUpstream();
    up.handle((rec) => {
      if (/\/users\/777$/.test(rec.path)) return { delayMs: 1500, status: 200, body: { slow: true, path: rec.path } };
      return { status: 200, body: { path: rec.path } };
    });
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir], env: BASE_ENV });
  });

  after(async () => {
    await stopAll(px, up);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function expectRoute(p, upPath) {
    const n = up.requests.length;
    const r = await request(px.restUrl, p);
    assert.equal(r.status, 200, `GET ${p}: ${describeRes(r)}`);
    assert.deepEqual(r.json, { path: upPath }, `GET ${p} answer`);
    assert.equal(up.requests.length, n + 1, `GET ${p} reached the upstream once`);
    assert.equal(up.requests[n].headers['x-cal-secret-key'], SECRET, `GET ${p} carries the configured secret`);
  }

  test('a valid new document set replaces the routes; an in-flight request finishes', T, async () => {
    await expectRoute('/v1/v2/oauth-clients/c/users/1', '/v2/oauth-clients/c/users/1');
    const nf = await request(px.restUrl, '/v1/extra/oauth-clients/c/users/2');
    assert.equal(nf.status, 404, `the extra route does not exist yet: ${describeRes(nf)}`);

    // a slow request in flight across the reload
    const n = up.requests.length;
    let slowDoneAt = null;
    const slow = request(px.restUrl, '/v1/v2/oauth-clients/c/users/777', { agent: false, timeoutMs: 15_000 * SCALE }).then((r) => {
      slowDoneAt = Date.now();
      return r;
    });
    await up.waitForRequests(n + 1, 5000 * SCALE);

    fs.writeFileSync(path.join(dir, 'b-extra.yaml'), extraDocument(fs.readFileSync(SEED, 'utf8')));
    const from = px.lines.length;
    px.child.kill('SIGHUP');
    const line = await px.waitForLine(/reloaded: \d+ documents, \d+ routes/, 10_000 * SCALE, from);
    const reloadedAt = Date.now();
    const m = /reloaded: (\d+) documents, (\d+) routes/.exec(line);
    assert.equal(Number(m[1]), 2, `documents after the reload: ${line}`);
    assert.ok(Number(m[2]) >= 14, `routes after the reload: ${line}`);
    assert.ok(slowDoneAt === null, 'the reload happened while the slow request was in flight');

    await expectRoute('/v1/extra/oauth-clients/c/users/2', '/v2/oauth-clients/c/users/2');
    await expectRoute('/v1/extra/oauth-clients/c/users', '/v2/oauth-clients/c/users');
    await expectRoute('/v1/v2/oauth-clients/c/users/3', '/v2/oauth-clients/c/users/3');

    const r = await slow;
    assert.equal(r.status, 200, `the in-flight request across the reload: ${describeRes(r)}`);
    assert.deepEqual(r.json, { slow: true, path: '/v2/oauth-clients/c/users/777' }, 'its upstream answer');
    assert.ok(slowDoneAt >= reloadedAt, 'it finished after the reload');
    assert.equal(px.exited, null, 'still running');
  });

  test('an invalid document set is reported with file:line:col and the previous routes keep serving', T, async () => {
    const broken = path.join(dir, 'zz-broken.yaml');
    fs.writeFileSync(broken, BROKEN_YAML);
    const from = px.lines.length;
    px.child.kill('SIGHUP');
    await px.waitForLine(/reload failed/, 10_000 * SCALE, from);
    const newLines = px.lines.slice(from);
    const errLine = newLines.find((l) => /zz-broken\.yaml:\d+:\d+: error: /.test(l));
    assert.ok(errLine, `an error line naming zz-broken.yaml with line:col; got:\n${newLines.join('\n')}`);
    const lc = /zz-broken\.yaml:(\d+):(\d+):/.exec(errLine);
    assert.ok(Number(lc[1]) >= 1 && Number(lc[1]) <= 8 && Number(lc[2]) >= 1, `a plausible line:col: ${errLine}`);
    assert.ok(newLines.some((l) => /reload failed; the previous configuration keeps serving/.test(l)), 'the reload-failed line');
    assert.ok(!newLines.some((l) => /reloaded:/.test(l)), 'no reloaded line for the invalid set');

    await expectRoute('/v1/v2/oauth-clients/c/users/4', '/v2/oauth-clients/c/users/4');
    await expectRoute('/v1/extra/oauth-clients/c/users/5', '/v2/oauth-clients/c/users/5');
    const rd = await request(px.adminUrl, '/readyz');
    assert.equal(rd.status, 200, `still ready: ${describeRes(rd)}`);

    // fixing the set makes the next reload succeed
    fs.rmSync(broken);
    fs.rmSync(path.join(dir, 'b-extra.yaml'));
    const from2 = px.lines.length;
    px.child.kill('SIGHUP');
    const line = await px.waitForLine(/reloaded: \d+ documents/, 10_000 * SCALE, from2);
    assert.match(line, /reloaded: 1 documents?, \d+ routes/, 'back to one document');
    const gone = await request(px.restUrl, '/v1/extra/oauth-clients/c/users/6');
    assert.equal(gone.status, 404, `the removed document's route is gone: ${describeRes(gone)}`);
    await expectRoute('/v1/v2/oauth-clients/c/users/7', '/v2/oauth-clients/c/users/7');
  });

  test('stops cleanly after the reloads', T, async () => {
    await stopClean(px);
  });
});

// =============================================================================================
// 4. JSON logs and request ids

const ACCESS_FIELDS = ['time', 'level', 'adapter', 'method', 'path', 'status', 'upstream_status', 'duration_ms', 'route', 'upstream_error', 'request_id'];

function assertJsonLines(lines) {
  for (const l of lines) {
    let o;
    assert.doesNotThrow(() => (o = JSON.parse(l)), `not a JSON line: ${l}`);
    assert.ok(o && typeof o === 'object' && !Array.isArray(o), `a JSON object: ${l}`);
    assert.ok('time' in o && typeof o.level === 'string', `time and level: ${l}`);
    if (o.level !== 'access') assert.equal(typeof o.msg, 'string', `msg: ${l}`);
  }
}

describe('logs: JSON format and request ids', () => {
  let up;
  let px;
  let dir;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-ops-json-'));
    fs.copyFileSync(SEED, path.join(dir, 'a-seed.yaml'));
    up = await startUpstream();
    up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
    // CAL_COM_API_KEY set: no load-time warning (those are printed as text before the logger
    // runs; see the report)
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir], env: { ...BASE_ENV, CAL_COM_API_KEY: 'unused', CAPPROXY_LOG_FORMAT: 'json' } });
  });

  after(async () => {
    await stopAll(px, up);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function accessFor(p) {
    const found = px.lines
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter((o) => o && o.level === 'access' && o.path === p);
    assert.equal(found.length, 1, `exactly one access line for ${p}; lines:\n${px.lines.slice(-10).join('\n')}`);
    return found[0];
  }

  async function waitAccess(p) {
    await px.waitForLine(new RegExp(`"path":"${p.replace(/[/.]/g, (c) => `\\${c}`)}"`), 5000 * SCALE);
    return accessFor(p);
  }

  function upstreamFor(upPath) {
    const recs = up.requests.filter((r) => r.path === upPath);
    assert.equal(recs.length, 1, `one upstream request for ${upPath}`);
    return recs[0];
  }

  test("the caller's X-Request-Id is kept: access line, upstream, response", T, async () => {
    const id = 'client-Req_42.a:b/c+d=e';
    const p = '/v1/v2/oauth-clients/c/users/1';
    const r = await request(px.restUrl, p, { headers: { 'X-Request-Id': id } });
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.headers['x-request-id'], id, 'response X-Request-Id');
    assert.equal(upstreamFor('/v2/oauth-clients/c/users/1').headers['x-request-id'], id, 'upstream X-Request-Id');
    const a = await waitAccess(p);
    for (const f of ACCESS_FIELDS) assert.ok(f in a, `access field ${f}: ${JSON.stringify(a)}`);
    assert.equal(a.level, 'access');
    assert.equal(a.adapter, 'rest');
    assert.equal(a.method, 'GET');
    assert.equal(a.status, 200);
    assert.equal(a.upstream_status, 200);
    assert.equal(typeof a.duration_ms, 'number');
    assert.ok(a.duration_ms >= 0, 'duration_ms >= 0');
    assert.equal(a.route, R_GET);
    assert.equal(a.upstream_error, '');
    assert.equal(a.request_id, id);
    assert.ok(typeof a.time === 'number' || typeof a.time === 'string', `time: ${a.time}`);
  });

  test('without (or with an unusable) X-Request-Id an id is generated, the same in all three places, distinct per request', T, async () => {
    const cases = [
      { p: '/v1/v2/oauth-clients/c/users/2', headers: {} },
      { p: '/v1/v2/oauth-clients/c/users/3', headers: {} },
      { p: '/v1/v2/oauth-clients/c/users/4', headers: { 'X-Request-Id': 'has space and "quotes"' } },
      { p: '/v1/v2/oauth-clients/c/users/5', headers: { 'X-Request-Id': 'x'.repeat(129) } },
    ];
    const ids = [];
    for (const c of cases) {
      const r = await request(px.restUrl, c.p, { headers: c.headers });
      assert.equal(r.status, 200, describeRes(r));
      const id = r.headers['x-request-id'];
      assert.ok(id && /^[A-Za-z0-9\-_.:+=/]{1,128}$/.test(id), `a generated plain-token id for ${c.p}: ${id}`);
      if (c.headers['X-Request-Id']) assert.notEqual(id, c.headers['X-Request-Id'], 'the unusable id is replaced');
      assert.equal(upstreamFor(c.p.replace('/v1', '')).headers['x-request-id'], id, `upstream X-Request-Id for ${c.p}`);
      const a = await waitAccess(c.p);
      assert.equal(a.request_id, id, `access-line request_id for ${c.p}`);
      ids.push(id);
    }
    assert.equal(new Set(ids).size, ids.length, `distinct ids: ${ids}`);
  });

  test('an unmatched request and an upstream error are logged as JSON access lines too', T, async () => {
    const r = await request(px.restUrl, '/no/such/route', { headers: { 'X-Request-Id': 'nf-1' } });
    assert.equal(r.status, 404, describeRes(r));
    assert.equal(r.headers['x-request-id'], 'nf-1', 'echoed on an error answer too');
    const a = await waitAccess('/no/such/route');
    assert.equal(a.status, 404);
    assert.equal(a.route, '');
    assert.equal(a.upstream_status, null, 'nothing was sent upstream');
    assert.equal(a.request_id, 'nf-1');
  });

  test('every stderr line so far is a JSON object with time and level', T, async () => {
    assert.ok(px.lines.length >= 5, 'some lines');
    assertJsonLines(px.lines);
    assert.equal(px.lines.filter((l) => JSON.parse(l).level === 'access').length, 6, 'six access lines (one per request made)');
  });

  test('a valid and a failed SIGHUP reload are logged as JSON lines too (diagnostics included)', T, async () => {
    let from = px.lines.length;
    px.child.kill('SIGHUP');
    await px.waitForLine(/reloaded: /, 10_000 * SCALE, from);
    assertJsonLines(px.lines.slice(from));

    const broken = path.join(dir, 'zz-broken.yaml');
    fs.writeFileSync(broken, BROKEN_YAML);
    from = px.lines.length;
    px.child.kill('SIGHUP');
    await px.waitForLine(/reload failed/, 10_000 * SCALE, from);
    await sleep(50); // any trailing line
    const got = px.lines.slice(from);
    fs.rmSync(broken);
    assert.ok(got.some((l) => l.includes('zz-broken.yaml')), `the error names the file: ${got.join('\n')}`);
    assertJsonLines(got);
  });

  test('stops with exit 0 and no sanitizer output; the shutdown lines are JSON', T, async () => {
    const from = px.lines.length;
    const r = await px.stop();
    assert.equal(r.code, 0, 'exit code');
    const sanitizer = px.lines.filter((l) => SANITIZER_PATTERNS.some((re) => re.test(l)));
    assert.deepEqual(sanitizer, [], 'no sanitizer output');
    assert.ok(px.lines.length > from, 'shutdown lines');
    assertJsonLines(px.lines.slice(from));
  });
});

describe('logs: text access lines carry request_id', () => {
  test('request_id=<the id> on the text access line', T, async () => {
    const up = await startUpstream();
    const px = await startProxy({ upstream: up, args: SEED_ARGS, env: BASE_ENV });
    try {
      const r = await request(px.restUrl, '/v1/v2/oauth-clients/c/users/9', { headers: { 'X-Request-Id': 'text-id-9' } });
      assert.equal(r.status, 200, describeRes(r));
      const line = await px.waitForLine(/capproxy: access: .*path=\/v1\/v2\/oauth-clients\/c\/users\/9 /, 5000 * SCALE);
      assert.match(line, /(^| )request_id=text-id-9( |$)/, line);
      const r2 = await request(px.restUrl, '/v1/v2/oauth-clients/c/users/10');
      const line2 = await px.waitForLine(/capproxy: access: .*path=\/v1\/v2\/oauth-clients\/c\/users\/10 /, 5000 * SCALE);
      assert.ok(r2.headers['x-request-id'], 'a generated id');
      assert.ok(line2.includes(` request_id=${r2.headers['x-request-id']}`), `generated id in the text line: ${line2}`);
      await stopClean(px);
    } finally {
      await stopAll(px, up);
    }
  });
});

// =============================================================================================
// 5. MCP session ids shared by processes with the same key

describe('MCP sessions across processes (CAPPROXY_SESSION_KEY)', () => {
  let up;
  let px1;
  let px2;
  let px3;
  const KEY = 'ops-test-session-key-0123456789abcdef';

  before(async () => {
    up = await startUpstream();
    [px1, px2, px3] = await Promise.all([
      startProxy({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_SESSION_KEY: KEY } }),
      startProxy({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_SESSION_KEY: KEY } }),
      startProxy({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_SESSION_KEY: `${KEY}-other` } }),
    ]);
  });

  after(async () => {
    await stopAll(px1, px2, px3, up);
  });

  const H = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

  async function post(px, body, extra = {}) {
    const r = await request(px.mcpUrl, '/mcp', { method: 'POST', headers: { ...H, ...extra }, body: JSON.stringify(body) });
    let msg = r.json;
    if (/^text\/event-stream/.test(String(r.headers['content-type'] || ''))) {
      const data = r.text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
      msg = data.length ? JSON.parse(data[0]) : undefined;
    }
    return { ...r, msg };
  }

  test('a session opened on one process is accepted by another with the same key, refused (404) with another key', T, async () => {
    const init = await post(px1, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(init.status, 200, `initialize: ${describeRes(init)}`);
    const sid = init.headers['mcp-session-id'];
    assert.ok(sid, `Mcp-Session-Id on the initialize answer: ${JSON.stringify(init.headers)}`);
    assert.equal(init.msg?.result?.protocolVersion, '2025-06-18', 'negotiated version');

    const hdr = { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' };
    for (const [name, px] of [['the same process', px1], ['another process with the same key', px2]]) {
      const r = await post(px, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, hdr);
      assert.equal(r.status, 200, `tools/list on ${name}: ${describeRes(r)}`);
      const tools = r.msg?.result?.tools;
      assert.ok(Array.isArray(tools), `tools on ${name}: ${r.text.slice(0, 300)}`);
      assert.equal(tools.length, 7, `7 tools on ${name}`);
      assert.ok(tools.some((t) => t.name === 'get-managed-user'), 'get-managed-user listed');
    }

    // a tool call through the other process reaches the upstream
    const n = up.requests.length;
    const c = await post(px2, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get-managed-user', arguments: { clientId: 'cx', userId: 11 } } }, hdr);
    assert.equal(c.status, 200, `tools/call on px2: ${describeRes(c)}`);
    assert.notEqual(c.msg?.result?.isError, true, `tools/call result: ${c.text.slice(0, 300)}`);
    assert.equal(up.requests.length, n + 1, 'the call reached the upstream');
    assert.equal(up.requests[n].path, '/v2/oauth-clients/cx/users/11');

    const r3 = await post(px3, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, hdr);
    assert.equal(r3.status, 404, `tools/list on a process with another key: ${describeRes(r3)}`);
    const forged = await post(px2, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...hdr, 'Mcp-Session-Id': `${sid.slice(0, -1)}${sid.endsWith('0') ? '1' : '0'}` });
    assert.equal(forged.status, 404, `a tampered session id: ${describeRes(forged)}`);
  });

  test('all three stop cleanly', T, async () => {
    await stopClean(px1);
    await stopClean(px2);
    await stopClean(px3);
  });
});

describe('--help', () => {
  test('lists every environment variable the README documents', T, async () => {
    const r = await runCapproxy(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const vars = [...new Set(readme.match(/\b(?:CAPPROXY|CAL_COM)_[A-Z_]*[A-Z]\b/g))];
    assert.ok(vars.length >= 20, `found ${vars.length} variables in the README`);
    const missing = vars.filter((v) => !new RegExp(`\\b${v}\\b`).test(r.stdout));
    assert.deepEqual(missing, [], `--help does not list: ${missing.join(', ')}`);
  });
});
