// Rate limits (issue 12 item 3): the inbound limit per client (keyed by credential, else by
// address: 429 with Retry-After and the RateLimit fields of draft-ietf-httpapi-ratelimit-headers-06,
// independent clients, recovery), the same over MCP, and the outbound rate per consumed API
// shared by every worker (the recording upstream counts arrivals over time).
// Run: cd tests/integration && node --test ratelimit.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { rpc, initMsg, req, show, SDKS, connectHttp, closeClient, callTool } from './mcp-helpers.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const ARGS = ['-c', 'tests/data/ratelimit/capproxy.yaml', 'tests/data/ratelimit/ratelimit.yaml'];
const KEY_A = 'key-a-5d1c0e';
const KEY_B = 'key-b-93f7aa';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** An agent whose connections come from <addr> (any 127/8 address is loopback on Linux). */
const from = (addr) => new http.Agent({ keepAlive: false, localAddress: addr });

/** Stop the proxy: exit 0, no sanitizer report. */
async function stopClean(px) {
  if (!px) return;
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
  assert.equal(r.code, 0, `exit code; stderr tail:\n${px.lines.slice(-20).join('\n')}`);
}

function showRes(r) {
  return `${r.status} ${JSON.stringify(r.headers)} ${String(r.text).slice(0, 300)}`;
}

async function metric(px, re) {
  const r = await request(px.adminUrl, '/metrics');
  const m = re.exec(r.text);
  return m ? Number(m[1]) : null;
}

// 3 requests per 6 s: a token every 2 s, so four quick requests always meet an empty bucket.
describe('inbound rate limit per client', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    up.handle(() => ({
      status: 200,
      headers: { 'RateLimit-Limit': '999', 'RateLimit-Remaining': '998' },
      body: { status: 'success', data: [] },
    }));
    px = await startProxy({ args: ARGS, env: { RL_BASE: up.url, CAPPROXY_RATE_LIMIT: '3/6s' } });
  });
  after(async () => {
    await stopClean(px);
    await up?.close();
  });

  test('a client over the limit gets 429, Retry-After and the RateLimit fields; then recovers', T, async () => {
    const agent = from('127.0.0.1');
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await request(px.restUrl, '/open/items', { agent }));
    for (let i = 0; i < 3; i++) {
      assert.equal(got[i].status, 200, showRes(got[i]));
      // Ours replace the upstream's fields of the same name (one value each).
      assert.equal(got[i].headers['ratelimit-limit'], '3', showRes(got[i]));
      assert.equal(got[i].headers['ratelimit-remaining'], String(2 - i), showRes(got[i]));
      assert.equal(got[i].headers['ratelimit-policy'], '3;w=6');
      const reset = Number(got[i].headers['ratelimit-reset']);
      assert.ok(reset >= 1 && reset <= 6, `RateLimit-Reset ${reset}`);
      assert.equal(got[i].headers['retry-after'], undefined);
    }
    const r = got[3];
    assert.equal(r.status, 429, showRes(r));
    assert.match(r.headers['content-type'], /^application\/problem\+json/);
    assert.equal(r.json.status, 429);
    assert.match(r.json.detail, /too many requests/);
    const retry = Number(r.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 2, `Retry-After ${r.headers['retry-after']}`);
    assert.equal(r.headers['ratelimit-remaining'], '0');
    assert.equal(r.headers['ratelimit-limit'], '3');
    assert.equal(up.requests.filter((q) => q.path === '/items').length, 3, 'the refused request never went upstream');
    // After Retry-After, one more request passes.
    await sleep(retry * 1000 + 150);
    const again = await request(px.restUrl, '/open/items', { agent });
    assert.equal(again.status, 200, showRes(again));
    assert.equal(again.headers['ratelimit-remaining'], '0');
    const limited = await metric(px, /^capproxy_ratelimit_inbound_limited_total (\d+)$/m);
    assert.ok(limited >= 1, `limited counter ${limited}`);
    assert.ok((await metric(px, /^capproxy_ratelimit_inbound_clients (\d+)$/m)) >= 1);
    assert.ok(px.accessLines().some((l) => /status=429/.test(l)), 'the 429 is in the access log');
  });

  test('another address has its own bucket', T, async () => {
    const a = from('127.0.0.4');
    const b = from('127.0.0.5');
    for (let i = 0; i < 3; i++) assert.equal((await request(px.restUrl, '/open/items', { agent: a })).status, 200);
    assert.equal((await request(px.restUrl, '/open/items', { agent: a })).status, 429);
    const r = await request(px.restUrl, '/open/items', { agent: b });
    assert.equal(r.status, 200, showRes(r));
    assert.equal(r.headers['ratelimit-remaining'], '2');
  });

  test('clients with a credential are keyed by it, not by address', T, async () => {
    const agent = from('127.0.0.6');
    const ra = [];
    for (let i = 0; i < 4; i++) ra.push(await request(px.restUrl, '/a/items', { agent, headers: { 'X-Key': KEY_A } }));
    assert.deepEqual(
      ra.map((r) => r.status),
      [200, 200, 200, 429],
      ra.map(showRes).join('\n'),
    );
    // The same address with the other tenant's credential: a full bucket.
    const rb = await request(px.restUrl, '/b/items', { agent, headers: { 'X-Key': KEY_B } });
    assert.equal(rb.status, 200, showRes(rb));
    assert.equal(rb.headers['ratelimit-remaining'], '2');
    // Tenant A from a fresh address is still limited: the key is the credential.
    const ra2 = await request(px.restUrl, '/a/items', { agent: from('127.0.0.7'), headers: { 'X-Key': KEY_A } });
    assert.equal(ra2.status, 429, showRes(ra2));
    // A wrong credential is refused (401) before the limit counts anything.
    const bad = await request(px.restUrl, '/a/items', { agent, headers: { 'X-Key': 'wrong' } });
    assert.equal(bad.status, 401);
    // The credential is in no log line.
    assert.ok(!px.lines.some((l) => l.includes(KEY_A) || l.includes(KEY_B)), 'a credential was logged');
  });

  test('MCP over HTTP: 429 with Retry-After and a JSON-RPC error body', T, async () => {
    const agent = from('127.0.0.8');
    const post = (msg) =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify(msg);
        const u = new URL(px.mcpUrl);
        const q = http.request(
          {
            host: u.hostname,
            port: u.port,
            method: 'POST',
            path: '/mcp',
            agent,
            headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
          },
        );
        q.on('error', reject);
        q.end(body);
      });
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await post(initMsg()));
    for (let i = 0; i < 3; i++) {
      assert.equal(rs[i].status, 200, `${rs[i].status} ${rs[i].text}`);
      assert.equal(rs[i].headers['ratelimit-limit'], '3');
    }
    assert.equal(rs[3].status, 429, `${rs[3].status} ${rs[3].text}`);
    assert.ok(Number(rs[3].headers['retry-after']) >= 1);
    const msg = JSON.parse(rs[3].text);
    assert.equal(msg.jsonrpc, '2.0');
    assert.match(msg.error.message, /Too Many Requests/);
  });
});

// limited-api: 4 a second, burst 1, a transfer waits 1 s at most (tests/data/ratelimit/capproxy.yaml).
describe('outbound rate per consumed API', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ARGS, env: { RL_BASE: up.url, CAPPROXY_WORKERS: '2' } });
  });
  after(async () => {
    await stopClean(px);
    await up?.close();
  });

  test('all workers together stay under the rate; over the wait, 429 with Retry-After', T, async () => {
    const N = 10;
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: N }, () => request(px.restUrl, '/open/slow', { timeoutMs: 10_000 * SCALE })));
    const ok = rs.filter((r) => r.status === 200);
    const refused = rs.filter((r) => r.status === 429);
    assert.equal(ok.length + refused.length, N, rs.map(showRes).join('\n'));
    // 1 at once, then one every 250 ms up to 1 s of waiting: about 5 pass (a few more when the
    // requests trickle in slowly), the rest are refused at once.
    assert.ok(ok.length >= 4 && ok.length <= 8, `${ok.length} passed`);
    assert.ok(refused.length >= 2, `${refused.length} refused`);
    for (const r of refused) {
      assert.ok(Number(r.headers['retry-after']) >= 1, showRes(r));
      assert.match(r.headers['content-type'], /^application\/problem\+json/);
      assert.match(r.json.detail, /consumers\[\]\.rate/);
    }
    const times = up.requests.filter((q) => q.path === '/slow').map((q) => q.time).sort((a, b) => a - b);
    assert.equal(times.length, ok.length, 'a refused request never reached the upstream');
    // Spaced at 4 a second: the second and the last arrival lie (n-2) x 250 ms apart (minus
    // slack; the first, sent at once, may arrive late behind its new connection, as under
    // valgrind), and no two arrivals after the first are much closer than 250 ms.
    const span = times[times.length - 1] - times[1];
    assert.ok(span >= (times.length - 2) * 250 * 0.8, `arrivals spanned ${span} ms for ${times.length}`);
    for (let i = 3; i < times.length; i++)
      assert.ok(times[i] - times[i - 2] >= 350, `arrivals ${i - 2} and ${i} only ${times[i] - times[i - 2]} ms apart`);
    // The whole thing took at least the waits, and not much more than the longest.
    const took = Date.now() - t0;
    assert.ok(took >= (ok.length - 1) * 250 * 0.8, `took ${took} ms`);
    const refusedM = await metric(px, /^capproxy_ratelimit_outbound_total\{api="limited-api",outcome="refused"\} (\d+)$/m);
    const delayedM = await metric(px, /^capproxy_ratelimit_outbound_total\{api="limited-api",outcome="delayed"\} (\d+)$/m);
    assert.equal(refusedM, refused.length);
    assert.ok(delayedM >= ok.length - 2, `delayed ${delayedM}`);
    assert.ok(px.accessLines().some((l) => /status=429/.test(l) && /rate_limited/.test(l)), px.accessLines().join('\n'));
  });

  test('an API without a rate is not held back; the inbound limit is off by default', T, async () => {
    const rs = await Promise.all(Array.from({ length: 10 }, () => request(px.restUrl, '/open/items')));
    assert.deepEqual(rs.map((r) => r.status), Array(10).fill(200));
    assert.equal(rs[0].headers['ratelimit-limit'], undefined, 'no RateLimit fields when the limit is off');
  });

  test('a client that goes away while its transfer waits for its turn: nothing is sent', T, async () => {
    await sleep(2500); // the bucket refills (and the earlier debt is paid)
    const before = up.requests.filter((q) => q.path === '/slow').length;
    const rs = await Promise.allSettled(
      Array.from({ length: 3 }, () => request(px.restUrl, '/open/slow', { timeoutMs: 150 })),
    );
    await sleep(1500);
    const sent = up.requests.filter((q) => q.path === '/slow').length - before;
    const done = rs.filter((r) => r.status === 'fulfilled').length;
    assert.ok(done >= 1, 'the first request went at once');
    assert.equal(sent, done, `${sent} reached the upstream, ${done} answered`);
    assert.ok(done < 3, 'the waiting ones were given up by their clients');
  });

  test('an MCP tool call over the rate is a tool error saying 429', T, async () => {
    await sleep(1500); // the bucket refills
    const { session } = await (async () => {
      const init = await rpc(px, initMsg());
      return { session: init.headers['mcp-session-id'] };
    })();
    const calls = await Promise.all(
      Array.from({ length: 8 }, () => rpc(px, req('tools/call', { name: 'slow', arguments: {} }), { session })),
    );
    const errs = calls.filter((c) => c.msg?.result?.isError);
    assert.ok(errs.length >= 1, calls.map(show).join('\n'));
    assert.match(JSON.stringify(errs[0].msg.result), /429|Too Many Requests/);
  });
});

// 1 a second, waits of up to 10 s: three transfers queued behind the first wait 1, 2 and 3 s.
describe('outbound rate: turns given back', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ARGS, env: { RL_BASE: up.url, RL_OUT_RATE: '1/s', RL_OUT_WAIT: '10s' } });
  });
  after(async () => {
    await stopClean(px);
    await up?.close();
  });

  test('clients that give up while waiting return their turns: the next request is not held behind them', T, async () => {
    const first = await request(px.restUrl, '/open/slow');
    assert.equal(first.status, 200, showRes(first));
    const rs = await Promise.allSettled(
      Array.from({ length: 3 }, () => request(px.restUrl, '/open/slow', { timeoutMs: 300 })),
    );
    assert.equal(rs.filter((r) => r.status === 'fulfilled').length, 0, 'the queued ones waited');
    await sleep(200); // the proxy sees the three hang-ups
    // Without their tokens back this one would wait about 3.5 s; with them, under 1 s.
    const t0 = Date.now();
    const r = await request(px.restUrl, '/open/slow', { timeoutMs: 10_000 * SCALE });
    const took = Date.now() - t0;
    assert.equal(r.status, 200, showRes(r));
    assert.ok(took < 2000 * Math.min(SCALE, 1.5), `waited ${took} ms behind transfers that were given up`);
    assert.equal(up.requests.filter((q) => q.path === '/slow').length, 2, 'the given-up ones were never sent');
  });
});

// MCP clients see an HTTP 429 of the inbound limit as an error carrying the status and the
// message of the JSON-RPC body (the SDKs throw on a non-2xx POST: 1.x StreamableHTTPError with
// .code, 2.x SdkHttpError with .status), not as a hang or a protocol error.
describe('inbound rate limit through the MCP SDK clients', () => {
  for (const sdk of SDKS) {
    test(`SDK ${sdk}.x: a limited client's call fails with 429 and says why`, T, async () => {
      const up = await startUpstream();
      up.handle(() => ({ status: 200, body: { status: 'success', data: [] } }));
      // a whole minute per 8 requests: connect (initialize, initialized, maybe the GET stream)
      // and a few calls pass, then the bucket is empty for the rest of the test
      const px = await startProxy({ args: ARGS, env: { RL_BASE: up.url, CAPPROXY_RATE_LIMIT: '8/1m' } });
      let c;
      try {
        c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
        let err = null;
        let ok = 0;
        for (let i = 0; i < 10 && !err; i++) {
          try {
            const res = await callTool(c.client, 'list-items', {});
            assert.ok(!res.isError, JSON.stringify(res));
            ok++;
          } catch (e) {
            err = e;
          }
        }
        assert.ok(ok >= 1, 'calls pass before the limit');
        assert.ok(err, 'a call over the limit fails');
        const status = sdk === 2 ? err.status : err.code;
        assert.equal(status, 429, `${err.name}: ${err.message}`);
        assert.match(err.message, /Too Many Requests: this client is over the rate limit/);
      } finally {
        await closeClient(c);
        await stopClean(px);
        await up.close();
      }
    });
  }
});

describe('rate-limit settings', () => {
  test('a bad CAPPROXY_RATE_LIMIT stops the start with a clear error', T, async () => {
    const r = await runCapproxy(['validate', ...ARGS], { env: { RL_BASE: 'http://127.0.0.1:1', CAPPROXY_RATE_LIMIT: 'lots' } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CAPPROXY_RATE_LIMIT expects a rate such as 100\/s or 600\/1m, or off, got 'lots'/);
  });
  test('a misspelt or bad rate key in the file is reported at its position', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-rl-'));
    const cfg = path.join(dir, 'capproxy.yaml');
    fs.writeFileSync(
      cfg,
      'limits:\n  rateLimt: 5/s\nconsumers:\n  - namespace: "*"\n    baseUri: http://127.0.0.1:1\n    rate: 5/fortnight\n',
    );
    const r = await runCapproxy(['validate', '-c', cfg, 'tests/data/ratelimit/ratelimit.yaml'], {});
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /capproxy\.yaml:2:3: error: unknown key 'rateLimt' in limits \(did you mean 'rateLimit'\?\)/);
    assert.match(r.stderr, /capproxy\.yaml:6:11: error: 'rate' expects a rate such as 100\/s, 600\/1m or off, got '5\/fortnight'/);
  });
});
