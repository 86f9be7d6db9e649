// REST integration tests: the real capproxy binary, the seed capability
// (capabilities/cal-com-managed-users.yaml) and a recording upstream stand-in on 127.0.0.1.
// Run: cd tests/integration && node --test rest.test.mjs   (CAPPROXY_BIN=build-asan/capproxy for ASan)

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';

import { startUpstream, closedPort } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot } from './capproxy.mjs';
import { request, raw, hangUp } from './client.mjs';

const SECRET = 'sk-capproxy-TEST-9f27c1e4b8d3a6f05e1d2c3b4a596877';
const FILE_SECRET = 'sk-capproxy-FILE-41c8a2e7d9b35f60e7a1b2c3d4e5f607';
const CALLER_SECRET = 'caller-own-secret-5b1d';
const SECRETS = [SECRET, FILE_SECRET];

// every test is bounded; a slow (sanitizer) build gets more room
const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 20_000 * SCALE };
const T_LONG = { timeout: 90_000 * SCALE };

const SEED = path.join(repoRoot, 'capabilities', 'cal-com-managed-users.yaml');

// ---------------------------------------------------------------------------------------------
// helpers

function assertNoSecret(where, text) {
  for (const s of SECRETS) assert.ok(!String(text).includes(s), `the configured secret appears in ${where}: ${String(text).slice(0, 500)}`);
}

/** A request to the proxy whose response must never carry a configured secret. */
async function call(px, p, opts = {}) {
  const r = await request(px.restUrl, p, opts);
  assertNoSecret(`the response to ${opts.method || 'GET'} ${p}`, r.text + JSON.stringify(r.headers));
  return r;
}

function describeRes(r) {
  return `${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 400)}`;
}

/** An error answer: status, application/problem+json, a JSON body with status (and parameter). */
function assertProblem(r, status, { parameter, strictType = true } = {}) {
  assert.equal(r.status, status, `expected ${status}, got ${describeRes(r)}`);
  if (!strictType) return;
  assert.match(r.headers['content-type'] || '', /^application\/problem\+json/, `problem content type; got ${describeRes(r)}`);
  assert.ok(r.json && typeof r.json === 'object', `a JSON problem body; got ${r.text.slice(0, 300)}`);
  assert.equal(r.json.status, status, `problem body "status"; got ${r.text}`);
  assert.equal(typeof r.json.title, 'string', `problem body "title"; got ${r.text}`);
  if (parameter !== undefined) {
    const named = r.json.parameter === parameter || String(r.json.detail || '').includes(parameter);
    assert.ok(named, `the problem names the parameter ${parameter}; got ${r.text}`);
    assert.equal(r.json.parameter, parameter, `problem body "parameter"; got ${r.text}`);
  }
}

function assertJsonType(r) {
  assert.match(r.headers['content-type'] || '', /^application\/json/, `JSON content type; got ${describeRes(r)}`);
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** Nothing reached the upstream (give a stray request a moment to arrive). */
async function assertNothingUpstream(up, what, waitMs = 150) {
  await sleep(waitMs);
  assert.deepEqual(up.requests.map((r) => `${r.method} ${r.url}`), [], `nothing must reach the upstream for ${what}`);
}

function headerCount(rec, name) {
  let n = 0;
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i].toLowerCase() === name) n++;
  return n;
}

function allowSet(r) {
  return new Set(String(r.headers.allow || '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean));
}

function emailsOf(rec) {
  return rec.searchParams.getAll('emails').flatMap((v) => v.split(','));
}

// The 7 operations of the seed. c = clientId, u = userId.
const OPS = [
  {
    route: 'oauthclientuserscontrollergetmanagedusers', method: 'GET',
    path: (c) => `/v1/v2/oauth-clients/${c}/users`, up: (c) => `/v2/oauth-clients/${c}/users`,
  },
  {
    route: 'oauthclientuserscontrollercreateuser', method: 'POST',
    path: (c) => `/v1/v2/oauth-clients/${c}/users`, up: (c) => `/v2/oauth-clients/${c}/users`,
    body: { email: 'alice@example.com', name: 'Alice Ä 😀', timeFormat: 24, weekStart: 'Monday', timeZone: 'Europe/Rome', locale: 'it', avatarUrl: null, nested: { a: [1, 2.5, -3, true, false, null, 'x"y\\z'] } },
  },
  {
    route: 'oauthclientuserscontrollergetuserbyid', method: 'GET',
    path: (c, u) => `/v1/v2/oauth-clients/${c}/users/${u}`, up: (c, u) => `/v2/oauth-clients/${c}/users/${u}`, userId: true,
  },
  {
    route: 'oauthclientuserscontrollerupdateuser', method: 'PATCH',
    path: (c, u) => `/v1/v2/oauth-clients/${c}/users/${u}`, up: (c, u) => `/v2/oauth-clients/${c}/users/${u}`, userId: true,
    body: { name: 'Bob', timeZone: 'America/New_York', weekStart: 'Sunday', timeFormat: 12, defaultScheduleId: 7 },
  },
  {
    route: 'oauthclientuserscontrollerdeleteuser', method: 'DELETE',
    path: (c, u) => `/v1/v2/oauth-clients/${c}/users/${u}`, up: (c, u) => `/v2/oauth-clients/${c}/users/${u}`, userId: true,
  },
  {
    route: 'oauthclientuserscontrollerforcerefresh', method: 'POST',
    path: (c, u) => `/v1/v2/oauth-clients/${c}/users/${u}/force-refresh`, up: (c, u) => `/v2/oauth-clients/${c}/users/${u}/force-refresh`, userId: true,
  },
  {
    route: 'oauthflowcontrollerrefreshtokens', method: 'POST',
    path: (c) => `/v1/v2/oauth/${c}/refresh`, up: (c) => `/v2/oauth/${c}/refresh`,
    body: { refreshToken: 'rt_0123456789abcdef' },
  },
];

function sendOp(px, op, c, u, extra = {}) {
  const opts = { method: op.method, ...extra };
  if (op.body !== undefined && !('body' in extra)) opts.body = op.body;
  return call(px, op.path(c, u), opts);
}

/** The upstream saw exactly the request this operation must make. */
function assertUpstreamRequest(up, rec, op, c, u, secret) {
  assert.equal(rec.method, op.method, 'upstream method');
  assert.equal(rec.url, op.up(c, u), 'upstream path, and no query string');
  assert.equal(rec.headers['x-cal-secret-key'], secret, 'upstream x-cal-secret-key');
  assert.equal(headerCount(rec, 'x-cal-secret-key'), 1, 'exactly one x-cal-secret-key header upstream');
  assert.equal(rec.headers.host, `127.0.0.1:${up.port}`, 'Host is the upstream host');
  if (op.body !== undefined) {
    assert.match(rec.headers['content-type'] || '', /^application\/json/, 'upstream content type of the JSON body');
    let got;
    assert.doesNotThrow(() => (got = JSON.parse(rec.bodyText)), `upstream body is JSON: ${rec.bodyText}`);
    assert.deepEqual(got, op.body, 'upstream body JSON-equal to the request body');
  } else {
    assert.equal(rec.body.length, 0, `no upstream body for ${op.method} ${op.route}; got ${rec.bodyText}`);
  }
}

async function stopClean(px, { expectAccess = true } = {}) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report in capproxy's stderr:\n${r.sanitizer}`);
  for (const [i, line] of r.lines.entries()) assertNoSecret(`capproxy stderr line ${i + 1}`, line);
  assert.equal(r.killed, false, 'capproxy stops on SIGTERM without SIGKILL');
  assert.equal(r.signal, null, `capproxy exits by itself on SIGTERM (signal ${r.signal}); stderr tail:\n${r.lines.slice(-20).join('\n')}`);
  assert.equal(r.code, 0, `capproxy exit code after SIGTERM; stderr tail:\n${r.lines.slice(-20).join('\n')}`);
  if (expectAccess) assert.ok(px.accessLines().length > 0, 'at least one access log line');
  return r;
}

// ---------------------------------------------------------------------------------------------

describe('REST: the 7 operations against a recording upstream', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('startup logs: rest and mcp listening lines with the actual ports, then ready', T, () => {
    assert.ok(px.rest.port > 0, 'rest port');
    assert.ok(px.lines.some((l) => /rest listening on 127\.0\.0\.1:\d+/.test(l)), px.stderr());
    assert.ok(px.lines.some((l) => /mcp listening on 127\.0\.0\.1:\d+/.test(l)), px.stderr());
    assert.ok(px.lines.some((l) => /\bready\b/.test(l)), px.stderr());
  });

  for (const op of OPS) {
    const label = `${op.method} ${op.path('{clientId}', '{userId}')}`;

    test(`${label}: exact upstream method, path, headers (injected secret) and body`, T, async () => {
      const c = `client-${op.route.slice(-8)}`;
      const r = await sendOp(px, op, c, 42);
      assert.equal(r.status, 200, describeRes(r));
      assertJsonType(r);
      await up.waitForRequests(1);
      assert.equal(up.requests.length, 1, 'exactly one upstream request');
      const rec = up.requests[0];
      assertUpstreamRequest(up, rec, op, c, 42, SECRET);
      // mapping $. : the upstream document, unchanged
      assert.equal(r.json.status, 'success');
      assert.equal(r.json.data.url, op.up(c, 42));
      assert.equal(r.json.data.method, op.method);
    });

    test(`${label}: the caller's own x-cal-secret-key wins over the configured one`, T, async () => {
      const r = await sendOp(px, op, 'client-own', 7, { headers: { 'X-Cal-Secret-Key': CALLER_SECRET } });
      assert.equal(r.status, 200, describeRes(r));
      await up.waitForRequests(1);
      assertUpstreamRequest(up, up.requests[0], op, 'client-own', 7, CALLER_SECRET);
    });

    test(`${label}: the upstream status passes through (200, 201, 404, 498) with its body`, T, async () => {
      const answers = [
        { status: 200, body: { status: 'success', data: { id: 1, email: 'a@example.com' } } },
        { status: 201, body: { status: 'success', data: { user: { id: 2 }, accessToken: 'at', refreshToken: 'rt' } } },
        { status: 404, body: { status: 'error', timestamp: '2026-01-01T00:00:00.000Z', path: '/x', error: { code: 'NotFoundException', message: 'User not found' } } },
        { status: 498, body: { status: 'error', error: { code: 'TokenExpiredException', message: 'ACCESS_TOKEN_IS_EXPIRED' } } },
      ];
      for (const a of answers) {
        up.reset();
        up.handle(() => ({ status: a.status, headers: { 'content-type': 'application/json' }, body: a.body }));
        const r = await sendOp(px, op, 'client-status', 3);
        assert.equal(r.status, a.status, `status ${a.status} passes through; got ${describeRes(r)}`);
        assertJsonType(r);
        assert.deepEqual(r.json, a.body, `body of the ${a.status} passes through`);
        assert.equal(up.requests.length, 1);
      }
    });
  }

  test('GET users: limit and offset forwarded; missing optional query parameters left out', T, async () => {
    let r = await call(px, '/v1/v2/oauth-clients/cq/users?limit=10&offset=20');
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    const rec = up.requests[0];
    assert.equal(rec.path, '/v2/oauth-clients/cq/users');
    assert.equal(rec.searchParams.get('limit'), '10');
    assert.equal(rec.searchParams.get('offset'), '20');
    assert.equal(rec.searchParams.getAll('limit').length, 1);
    assert.equal(rec.searchParams.has('emails'), false, 'absent emails left out');

    up.reset();
    r = await call(px, '/v1/v2/oauth-clients/cq/users?offset=5');
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    assert.equal(up.requests[0].url, '/v2/oauth-clients/cq/users?offset=5');
  });

  test('GET users: emails sent repeated or comma-joined reach the upstream as the same list', T, async () => {
    for (const q of ['emails=a%40example.com&emails=b%40example.com', 'emails=a%40example.com,b%40example.com', 'emails=a%40example.com%2Cb%40example.com']) {
      up.reset();
      const r = await call(px, `/v1/v2/oauth-clients/ce/users?${q}`);
      assert.equal(r.status, 200, `${q}: ${describeRes(r)}`);
      await up.waitForRequests(1);
      assert.deepEqual(emailsOf(up.requests[0]), ['a@example.com', 'b@example.com'], `${q} -> upstream ${up.requests[0].url}`);
    }
  });

  test('GET users: a query value cannot add upstream query parameters', T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/ci/users?emails=a%40example.com%26admin%3Dtrue%23x');
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    const rec = up.requests[0];
    assert.equal(rec.searchParams.has('admin'), false, `upstream url ${rec.url}`);
    assert.deepEqual(rec.searchParams.getAll('emails'), ['a@example.com&admin=true#x'], `upstream url ${rec.url}`);
  });

  test('GET users: a non-numeric limit or offset is 400 naming it, nothing upstream', T, async () => {
    for (const [q, name] of [['limit=ten', 'limit'], ['offset=1x', 'offset'], ['limit=1%26offset%3D2', 'limit']]) {
      const r = await call(px, `/v1/v2/oauth-clients/cl/users?${q}`);
      assertProblem(r, 400, { parameter: name });
    }
    await assertNothingUpstream(up, 'bad numbers');
  });

  test('userId that is not a number: 400 naming userId, nothing upstream (GET, PATCH, DELETE, force-refresh)', T, async () => {
    for (const op of OPS.filter((o) => o.userId)) {
      for (const u of ['abc', '12abc', '%2e%2e']) {
        const r = await sendOp(px, op, 'abc', u);
        assertProblem(r, 400, { parameter: 'userId' });
      }
    }
    await assertNothingUpstream(up, 'non-numeric userId');
  });

  test('a required JSON body that is missing or not JSON: 400, nothing upstream', T, async () => {
    for (const op of OPS.filter((o) => o.body !== undefined)) {
      let r = await call(px, op.path('abc', 1), { method: op.method, headers: { 'content-type': 'application/json' }, body: '{"email": "x@example.com",' });
      assertProblem(r, 400);
      r = await call(px, op.path('abc', 1), { method: op.method, headers: { 'content-type': 'application/json' }, body: '' });
      assertProblem(r, 400, { parameter: 'body' });
    }
    await assertNothingUpstream(up, 'bad or missing bodies');
  });

  test('a JSON body with \\u0000 in a string: 400 naming body, nothing upstream (never cut at the NUL)', T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/abc/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"ab\\u0000cd","email":"x@example.com"}' });
    assertProblem(r, 400, { parameter: 'body' });
    await assertNothingUpstream(up, 'a body with \\u0000');
    // an escaped backslash followed by u0000 is ordinary text and goes through unchanged
    const ok = '{"name":"ab\\\\u0000cd","email":"x@example.com"}';
    const r2 = await call(px, '/v1/v2/oauth-clients/abc/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ok });
    assert.equal(r2.status, 200, describeRes(r2));
    await up.waitForRequests(1);
    assert.equal(up.requests[0].bodyText, ok);
  });

  // A raw NUL byte (invalid JSON, but cJSON reads it and cuts the string there): found by
  // tests/fuzz/fuzz_jsonpath.
  test('a JSON body with a raw NUL byte in a string: 400 naming body, nothing upstream', T, async () => {
    const body = '{"name":"ab\u0000cd","email":"x@example.com"}';
    assert.strictEqual(Buffer.from(body)[11], 0, 'the body holds a raw NUL byte');
    const r = await call(px, '/v1/v2/oauth-clients/abc/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assertProblem(r, 400, { parameter: 'body' });
    await assertNothingUpstream(up, 'a body with a raw NUL byte');
  });

  test('unknown path: 404 problem, nothing upstream', T, async () => {
    for (const p of ['/', '/v1', '/v1/v2/nope', '/v2/oauth-clients/abc/users', '/v1/v2/oauth-clients/abc/users/42/extra', '/v1/v2/oauth-clients/abc/things']) {
      const r = await call(px, p);
      assertProblem(r, 404);
    }
    await assertNothingUpstream(up, 'unknown paths');
  });

  test('undeclared method on a known path: 405 with Allow, nothing upstream', T, async () => {
    const cases = [
      ['PUT', '/v1/v2/oauth-clients/abc/users', ['GET', 'POST']],
      ['DELETE', '/v1/v2/oauth-clients/abc/users', ['GET', 'POST']],
      ['PUT', '/v1/v2/oauth-clients/abc/users/42', ['GET', 'PATCH', 'DELETE']],
      ['POST', '/v1/v2/oauth-clients/abc/users/42', ['GET', 'PATCH', 'DELETE']],
      ['GET', '/v1/v2/oauth-clients/abc/users/42/force-refresh', ['POST']],
      ['DELETE', '/v1/v2/oauth/abc/refresh', ['POST']],
    ];
    for (const [m, p, allowed] of cases) {
      const r = await call(px, p, { method: m, body: m === 'GET' || m === 'DELETE' ? undefined : '{}' });
      assertProblem(r, 405);
      const allow = allowSet(r);
      for (const a of allowed) assert.ok(allow.has(a), `${m} ${p}: Allow "${r.headers.allow}" lists ${a}`);
      assert.ok(!allow.has(m), `${m} ${p}: Allow "${r.headers.allow}" must not list ${m}`);
    }
    await assertNothingUpstream(up, '405s');
  });

  // Path injection through the {clientid} segment: the value is either refused (400; 404 for a
  // dot segment resolved before routing) or sent as one percent-encoded segment; it never
  // reaches another upstream path.
  const INJECTIONS = ['..', '.', '%2e%2e', '%2E%2E', '%2e', '..%2F..%2Fadmin', '%2e%2e%2f%2e%2e%2fadmin', 'a%2Fb', '%2F', 'a%00b', '%00',
    'a%0d%0aX-Injected:%20yes', 'a%0aX-Injected:%20yes', 'a%3Fadmin%3Dtrue', 'a%23frag', '%252e%252e', '%5C..%5C', 'a%20b', '%C3%A9', 'a%2Bb', 'a%25b'];
  const BENIGN = ['a%20b', '%C3%A9', 'a%2Bb', 'a%25b'];
  for (const [name, tmpl, upRe] of [
    ['GET users', (s) => `/v1/v2/oauth-clients/${s}/users`, /^\/v2\/oauth-clients\/([^/?#]+)\/users$/],
    ['GET user', (s) => `/v1/v2/oauth-clients/${s}/users/5`, /^\/v2\/oauth-clients\/([^/?#]+)\/users\/5$/],
    ['POST refresh', (s) => `/v1/v2/oauth/${s}/refresh`, /^\/v2\/oauth\/([^/?#]+)\/refresh$/],
  ]) {
    test(`path injection through clientId (${name}): encoded as one segment or refused, never another upstream path`, T, async (t) => {
      const outcomes = [];
      for (const inj of INJECTIONS) {
        up.reset();
        const p = tmpl(inj);
        const r = await call(px, p, name.startsWith('POST') ? { method: 'POST', body: { refreshToken: 'x' } } : {});
        await sleep(30);
        const seen = up.requests.map((q) => q.url);
        outcomes.push(`${p} -> ${r.status} upstream ${JSON.stringify(seen)}`);
        for (const q of up.requests) {
          assert.equal(q.headers['x-injected'], undefined, `${p}: header injected upstream: ${JSON.stringify(q.rawHeaders)}`);
          assert.equal(q.rawQuery, null, `${p}: upstream got a query string: ${q.url}`);
        }
        if (r.status === 400 || r.status === 404) {
          // a plain value that needs encoding must be forwarded, not refused
          assert.ok(!BENIGN.includes(inj), `${p}: a value that only needs percent-encoding must be forwarded; got ${describeRes(r)}`);
          if (r.status === 400) assertProblem(r, 400);
          assert.deepEqual(seen, [], `${p}: refused, yet the upstream saw ${JSON.stringify(seen)}`);
          continue;
        }
        assert.equal(r.status, 200, `${p}: either 400 or forwarded; got ${describeRes(r)}`);
        assert.equal(up.requests.length, 1, `${p}: one upstream request; saw ${JSON.stringify(seen)}`);
        const m = upRe.exec(up.requests[0].url);
        assert.ok(m, `${p}: upstream path ${up.requests[0].url} is not the operation's path`);
        const seg = m[1];
        assert.ok(seg !== '.' && seg !== '..', `${p}: dot segment reached the upstream: ${up.requests[0].url}`);
        assert.ok(!/[\x00-\x20\x7f]/.test(seg), `${p}: unencoded control/space in upstream segment: ${JSON.stringify(seg)}`);
        const clientSeg = /\/(?:oauth-clients|oauth)\/([^/]+)\//.exec(p)[1];
        assert.equal(decodeURIComponent(seg), decodeURIComponent(clientSeg), `${p}: the upstream segment ${seg} carries the value unchanged`);
      }
      t.diagnostic(outcomes.join('\n'));
    });
  }

  test('path injection through userId: refused (400, or 404 for a literal dot segment), nothing upstream', T, async () => {
    for (const u of ['..', '%2e%2e', '5%2F..%2F..%2Fadmin', '5%00', '5%0d%0aX-Injected:%20yes', '5%3Fa%3D1', '5%23x']) {
      const r = await call(px, `/v1/v2/oauth-clients/abc/users/${u}`);
      if (u === '..') assert.ok(r.status === 400 || r.status === 404, `${u}: ${describeRes(r)}`);
      else assertProblem(r, 400, { parameter: 'userId' });
    }
    await assertNothingUpstream(up, 'userId injection');
  });

  test('a header value with a bare CR is refused with 400 (raw socket), nothing upstream', T, async () => {
    const req = `GET /v1/v2/oauth-clients/crlf/users HTTP/1.1\r\nHost: 127.0.0.1\r\nx-cal-secret-key: abc\rX-Injected: yes\r\nConnection: close\r\n\r\n`;
    const r = await raw(px.rest.port, Buffer.from(req, 'latin1'));
    assert.equal(r.status, 400, `raw CR in header value; got ${r.rawText.slice(0, 300)}`);
    assertNoSecret('the raw response', r.rawText);
    await assertNothingUpstream(up, 'CR in a header value');
  });

  test('CR/LF reaching a header value through the query (x-cal-secret-key lookup): refused or harmless', T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/crlf2/users?x-cal-secret-key=abc%0d%0aX-Injected:%20yes');
    await sleep(100);
    if (r.status === 400) {
      await assertNothingUpstream(up, 'CR/LF header value via query');
    } else {
      assert.equal(r.status, 200, describeRes(r));
      for (const q of up.requests) {
        assert.equal(q.headers['x-injected'], undefined, `header injected upstream: ${JSON.stringify(q.rawHeaders)}`);
        assert.ok(!/[\r\n]/.test(q.headers['x-cal-secret-key'] || ''), 'no CR/LF in the upstream secret header');
      }
    }
  });

  test('a client that hangs up while the upstream works: the upstream request is cancelled, the proxy keeps serving', T, async () => {
    up.handle((rec) => (rec.path.includes('/hang/') ? { hang: true } : null));
    const sock = net.connect({ host: '127.0.0.1', port: px.rest.port });
    sock.on('error', () => {});
    await new Promise((res) => sock.on('connect', res));
    sock.write(`GET /v1/v2/oauth-clients/hang/users/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await up.waitFor((rs) => rs.some((q) => q.path === '/v2/oauth-clients/hang/users/2'), 5000, 'the request to reach the upstream');
    sock.destroy();
    await up.waitFor((rs) => rs.some((q) => q.path === '/v2/oauth-clients/hang/users/2' && q.aborted), 5000 * SCALE, 'the upstream request to be cancelled (connection closed)');
    const r = await call(px, '/v1/v2/oauth-clients/after-hangup/users/3');
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.json.data.path, '/v2/oauth-clients/after-hangup/users/3');
  });

  test('a client that hangs up in the middle of its request body: nothing upstream, the proxy keeps serving', T, async () => {
    await hangUp(px.rest.port,
      `PATCH /v1/v2/oauth-clients/half/users/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":"ha`,
      { afterMs: 200 });
    await hangUp(px.rest.port, `GET /v1/v2/oauth-clients/half/us`, { afterMs: 50 });
    await assertNothingUpstream(up, 'half requests', 300);
    const r = await call(px, '/v1/v2/oauth-clients/after-half/users/3');
    assert.equal(r.status, 200, describeRes(r));
  });

  test('an upstream that resets the connection: 502 problem', T, async () => {
    up.handle(() => ({ destroy: true }));
    const r = await call(px, '/v1/v2/oauth-clients/reset/users/1');
    assertProblem(r, 502);
    up.reset();
    const ok = await call(px, '/v1/v2/oauth-clients/after-reset/users/1');
    assert.equal(ok.status, 200, describeRes(ok));
  });

  test('access log: one line per request with method, path (no query), status, upstream_status, route; never the secret', T, async () => {
    const from = px.lines.length;
    await call(px, '/v1/v2/oauth-clients/acclog/users?limit=3');
    await call(px, '/v1/v2/oauth-clients/acclog/nowhere');
    const ok = await px.waitForLine(/access:.*path=\/v1\/v2\/oauth-clients\/acclog\/users\b/, 3000, from);
    assert.match(ok, /^capproxy: access: /);
    const f = accessFields(ok);
    assert.equal(f.method, 'GET', ok);
    assert.equal(f.path, '/v1/v2/oauth-clients/acclog/users', ok);
    assert.equal(f.status, '200', ok);
    assert.equal(f.upstream_status, '200', ok);
    assert.match(f.duration_ms || '', /^[0-9]+(\.[0-9]+)?$/, ok);
    assert.equal(f.route, 'oauthclientuserscontrollergetmanagedusers', ok);
    assert.doesNotMatch(ok, /limit=3/);
    const nf = await px.waitForLine(/access:.*path=\/v1\/v2\/oauth-clients\/acclog\/nowhere/, 3000, from);
    const g = accessFields(nf);
    assert.equal(g.status, '404', nf);
    assert.equal(g.upstream_status, '-', nf);
    const mine = px.lines.slice(from).filter((l) => /access:.*acclog/.test(l));
    assert.equal(mine.length, 2, `one access line per request: ${mine.join('\n')}`);
  });

  test('keep-alive: 30 requests on one client connection, each answered correctly', T, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set();
    try {
      for (let i = 0; i < 30; i++) {
        const op = OPS[i % OPS.length];
        const r = await call(px, op.path(`ka-${i}`, i), { method: op.method, body: op.body, agent });
        assert.equal(r.status, 200, `#${i} ${op.method}: ${describeRes(r)}`);
        assert.equal(r.json.data.url, op.up(`ka-${i}`, i), `#${i}`);
      }
      for (const sock of Object.values(agent.freeSockets).flat()) ports.add(sock.localPort);
    } finally {
      agent.destroy();
    }
    assert.equal(up.requests.length, 30);
    assert.ok(ports.size <= 1, 'one client connection was reused');
  });

  test('large bodies: a 600 KiB request body reaches the upstream intact, a 4 MiB upstream body comes back intact', T, async () => {
    const big = { email: 'big@example.com', items: Array.from({ length: 6000 }, (_, i) => ({ i, s: `item-${i}-${'z'.repeat(80)}` })) };
    assert.ok(JSON.stringify(big).length > 600 * 1024);
    let r = await call(px, '/v1/v2/oauth-clients/bigreq/users', { method: 'POST', body: big, timeoutMs: 20_000 * SCALE });
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    assert.deepEqual(JSON.parse(up.requests[0].bodyText), big);

    up.reset();
    const answer = { status: 'success', data: Array.from({ length: 20000 }, (_, i) => ({ id: i, email: `u${i}@example.com`, name: `User ${i} ${'n'.repeat(150)}` })) };
    const text = JSON.stringify(answer);
    assert.ok(text.length > 4 * 1024 * 1024);
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: text }));
    r = await call(px, '/v1/v2/oauth-clients/bigres/users', { timeoutMs: 20_000 * SCALE });
    assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 200)}`);
    assert.deepEqual(r.json, answer);
  });

  test('500 concurrent requests are all answered, each with its own response', T_LONG, async () => {
    up.handle((rec) => ({ delayMs: (rec.seq * 7) % 40, ...defaultEcho(rec) }));
    const N = 500;
    const jobs = [];
    for (let i = 0; i < N; i++) {
      const patch = i % 5 === 0;
      jobs.push(
        request(px.restUrl, `/v1/v2/oauth-clients/conc-${i}/users/${i}`, {
          method: patch ? 'PATCH' : 'GET',
          body: patch ? { name: `user-${i}`, i } : undefined,
          timeoutMs: 60_000 * SCALE,
        }).then(
          (r) => ({ i, patch, r }),
          (e) => ({ i, patch, e }),
        ),
      );
    }
    const results = await Promise.all(jobs);
    const bad = [];
    for (const { i, patch, r, e } of results) {
      if (e) {
        bad.push(`#${i}: ${e.message}`);
        continue;
      }
      const d = r.json?.data;
      if (r.status !== 200 || !d || d.path !== `/v2/oauth-clients/conc-${i}/users/${i}` || d.method !== (patch ? 'PATCH' : 'GET') ||
          (patch && (d.body?.i !== i || d.body?.name !== `user-${i}`))) {
        bad.push(`#${i}: ${describeRes(r)}`);
      }
    }
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${N} concurrent requests were not answered correctly`);
    assert.equal(up.requests.length, N, 'each request reached the upstream exactly once');
    assert.equal(new Set(up.requests.map((q) => q.url)).size, N);
  });

  test('the proxy still serves after everything above, and stops cleanly on SIGTERM (exit 0, no sanitizer report, no secret in stderr)', T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/last/users');
    assert.equal(r.status, 200, describeRes(r));
    await stopClean(px);
  });
});

/** key=value fields of an access log line (extra fields allowed, order free). */
function accessFields(line) {
  const f = {};
  for (const m of line.matchAll(/(\w+)=(\S*)/g)) f[m[1]] = m[2];
  return f;
}

function defaultEcho(rec) {
  let body = null;
  try {
    body = rec.bodyText ? JSON.parse(rec.bodyText) : null;
  } catch {
    body = rec.bodyText;
  }
  return { status: 200, body: { status: 'success', data: { method: rec.method, path: rec.path, url: rec.url, body } } };
}

describe('REST: limits and time-outs (CAPPROXY_MAX_BODY_SIZE=1k, CAPPROXY_MAX_HEADER_SIZE=4k, CAPPROXY_UPSTREAM_TIMEOUT=500ms)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({
      upstream: up,
      env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_MAX_BODY_SIZE: '1k', CAPPROXY_MAX_HEADER_SIZE: '4k', CAPPROXY_UPSTREAM_TIMEOUT: '500ms' },
    });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('a body under the limit passes; a body over it is 413, nothing upstream', T, async () => {
    const small = { email: 'small@example.com', pad: 'x'.repeat(800) };
    let r = await call(px, '/v1/v2/oauth-clients/lim/users', { method: 'POST', body: small });
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    assert.deepEqual(JSON.parse(up.requests[0].bodyText), small);

    up.reset();
    r = await call(px, '/v1/v2/oauth-clients/lim/users', { method: 'POST', body: { email: 'big@example.com', pad: 'x'.repeat(2000) } });
    assertProblem(r, 413);
    await assertNothingUpstream(up, 'an oversized body');
  });

  test('a chunked body over the limit is 413 too (raw socket), nothing upstream', T, async () => {
    const chunk = `{"pad":"${'y'.repeat(3000)}"}`;
    const req = `POST /v1/v2/oauth-clients/lim/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const r = await raw(px.rest.port, req);
    assert.equal(r.status, 413, `got ${r.rawText.slice(0, 300)}`);
    await assertNothingUpstream(up, 'an oversized chunked body');
  });

  test('headers under the limit pass; headers over it are 431, nothing upstream', T, async () => {
    let r = await call(px, '/v1/v2/oauth-clients/lim/users', { headers: { 'x-filler': 'a'.repeat(1500) } });
    assert.equal(r.status, 200, describeRes(r));
    up.reset();
    r = await call(px, '/v1/v2/oauth-clients/lim/users', { headers: { 'x-filler': 'a'.repeat(6000) } });
    assertProblem(r, 431);
    r = await call(px, '/v1/v2/oauth-clients/lim/users', { headers: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, 'b'.repeat(60)])) });
    assertProblem(r, 431);
    await assertNothingUpstream(up, 'oversized headers');
  });

  test('pipelined: a good request is answered, a refused one behind it gets 400 and the connection closes', T, async () => {
    const good = `GET /v1/v2/oauth-clients/pipe/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const bad = `GET /v1/v2/oauth-clients/pipe/users HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Cal-Secret-Key: a\0b\r\n\r\n`;
    const all = await new Promise((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: px.rest.port }, () => sock.write(good + bad, 'latin1'));
      let buf = '';
      const t = setTimeout(() => sock.destroy(), 3000 * SCALE);
      sock.on('data', (c) => (buf += c.toString('latin1')));
      sock.on('close', () => {
        clearTimeout(t);
        resolve(buf);
      });
      sock.on('error', () => {});
    });
    const statuses = [...all.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 400], all.slice(0, 600));
    assert.match(all, /X-Cal-Secret-Key/, 'the refusal names the header');
    assert.equal(up.requests.length, 1, 'only the good request went upstream');
  });

  test('an upstream slower than CAPPROXY_UPSTREAM_TIMEOUT: 504 problem in time, the upstream request is abandoned', T, async () => {
    up.handle(() => ({ delayMs: 5000 }));
    const t0 = Date.now();
    const r = await call(px, '/v1/v2/oauth-clients/slow/users/1');
    const took = Date.now() - t0;
    assertProblem(r, 504);
    assert.ok(took >= 400, `504 came after ${took} ms, before the 500 ms time-out`);
    assert.ok(took < 3000 * SCALE, `504 came after ${took} ms`);
    await up.waitFor((rs) => rs.length === 1 && rs[0].aborted, 3000 * SCALE, 'the slow upstream request to be closed by the proxy');
    up.reset();
    const ok = await call(px, '/v1/v2/oauth-clients/fast/users/1');
    assert.equal(ok.status, 200, describeRes(ok));
  });

  test('an upstream within the time-out is fine', T, async () => {
    up.handle((rec) => ({ delayMs: 100, ...defaultEcho(rec) }));
    const r = await call(px, '/v1/v2/oauth-clients/ontime/users/1');
    assert.equal(r.status, 200, describeRes(r));
  });

  test('stops cleanly on SIGTERM', T, async () => {
    await stopClean(px);
  });
});

describe('REST: upstream down', () => {
  let px;
  before(async () => {
    const port = await closedPort();
    // No circuit breaker: every call must reach the refusing port (resilience.test.mjs tests it).
    px = await startProxy({
      upstream: `http://127.0.0.1:${port}`,
      env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_UPSTREAM_BREAKER_FAILURES: 0 },
    });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
  });

  test('connection refused: 502 problem (upstream_error "refused"), repeatedly, for every operation', T, async () => {
    for (const op of OPS) {
      const r = await sendOp(px, op, 'down', 1);
      assertProblem(r, 502);
      assert.equal(r.json.upstream_error, 'refused', r.text);
    }
  });

  test('stops cleanly on SIGTERM', T, async () => {
    await stopClean(px);
  });
});

describe('REST: no configured secret', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: {} });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('no secret configured and none sent: 401 problem, nothing upstream', T, async () => {
    for (const op of OPS) {
      const r = await sendOp(px, op, 'nosecret', 1);
      assertProblem(r, 401);
    }
    await assertNothingUpstream(up, 'requests without any credential');
  });

  test("the caller's secret is forwarded", T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/withsecret/users/9', { headers: { 'x-cal-secret-key': CALLER_SECRET } });
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    assert.equal(up.requests[0].headers['x-cal-secret-key'], CALLER_SECRET);
  });

  test('stops cleanly on SIGTERM', T, async () => {
    await stopClean(px);
  });
});

describe('REST: the secret from CAL_COM_CLIENT_SECRET_FILE', () => {
  let up;
  let dir;
  before(async () => {
    up = await startUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-secret-'));
    fs.writeFileSync(path.join(dir, 'secret'), FILE_SECRET, { mode: 0o600 });
  });
  after(async () => {
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => up.reset());

  test('the file secret is injected, and never appears in a response or stderr', T, async () => {
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET_FILE: path.join(dir, 'secret'), CAPPROXY_LOG_LEVEL: 'debug' } });
    try {
      const r = await call(px, '/v1/v2/oauth-clients/file/users/1');
      assert.equal(r.status, 200, describeRes(r));
      await up.waitForRequests(1);
      assert.equal(up.requests[0].headers['x-cal-secret-key'], FILE_SECRET);
      const r2 = await call(px, '/v1/v2/oauth-clients/file/users/not-a-number');
      assertProblem(r2, 400, { parameter: 'userId' });
    } finally {
      await stopClean(px);
    }
  });

  test('CAL_COM_CLIENT_SECRET wins over CAL_COM_CLIENT_SECRET_FILE', T, async () => {
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, CAL_COM_CLIENT_SECRET_FILE: path.join(dir, 'secret') } });
    try {
      const r = await call(px, '/v1/v2/oauth-clients/both/users/1');
      assert.equal(r.status, 200, describeRes(r));
      await up.waitForRequests(1);
      assert.equal(up.requests[0].headers['x-cal-secret-key'], SECRET);
    } finally {
      await stopClean(px);
    }
  });
});

describe('capproxy validate', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-validate-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('validate capabilities/ exits 0', T, async () => {
    const r = await runCapproxy(['validate', 'capabilities/']);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  });

  test('bad YAML: exit 1 with file:line:col: error', T, async () => {
    const f = path.join(dir, 'bad-yaml.yaml');
    fs.writeFileSync(f, 'naftiko: 1.0.0-alpha2\ninfo:\n  label: a: b\ncapability:\n  consumes: []\n');
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${escapeRe(f)}:3:\\d+: error: `), r.stderr);
  });

  test('a call to a missing operation: exit 1 with file:line:col of that call', T, async () => {
    const text = fs.readFileSync(SEED, 'utf8');
    const needle = 'call: cal-com-deprecated-platform-managed-users.oauthclientuserscontrollerdeleteuser';
    const idx = text.indexOf(needle);
    assert.ok(idx > 0, 'the seed has the delete call');
    const broken = text.slice(0, idx) + 'call: cal-com-deprecated-platform-managed-users.nosuchoperation' + text.slice(idx + needle.length);
    const line = text.slice(0, idx).split('\n').length;
    const f = path.join(dir, 'missing-op.yaml');
    fs.writeFileSync(f, broken);
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${escapeRe(f)}:${line}:\\d+: error: .*nosuchoperation`), `expected ${path.basename(f)}:${line}:COL; stderr:\n${r.stderr}`);
  });

  test('a directory holding one broken document: exit 1', T, async () => {
    const d = path.join(dir, 'mixed');
    fs.mkdirSync(d);
    fs.copyFileSync(SEED, path.join(d, 'good.yaml'));
    fs.writeFileSync(path.join(d, 'broken.yaml'), 'naftiko: 1.0.0-alpha2\ncapability: [\n');
    const r = await runCapproxy(['validate', d]);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /broken\.yaml:\d+:\d+: error: /, r.stderr);
  });

  test('a copy of the seed validates', T, async () => {
    const f = path.join(dir, 'seed-copy.yaml');
    fs.copyFileSync(SEED, f);
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  });
});

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('REST: an adapter with inbound authentication', () => {
  const TOKEN = 'inbound-token-7c2e91d0';
  let up;
  let px;
  let dir;
  before(async () => {
    // The seed with a bearer credential on its REST adapter, read from a bind.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-inbound-'));
    const seed = fs.readFileSync(SEED, 'utf8');
    const doc = seed
      .replace('binds:\n- namespace: env\n  keys:\n    CAL_COM_API_KEY: CAL_COM_API_KEY', 'binds:\n- namespace: env\n  keys:\n    CAL_COM_API_KEY: CAL_COM_API_KEY\n    INBOUND_TOKEN: CPX_TEST_INBOUND_TOKEN')
      .replace('    namespace: cal-com-deprecated-platform-managed-users-rest\n', "    namespace: cal-com-deprecated-platform-managed-users-rest\n    authentication:\n      type: bearer\n      token: '{{INBOUND_TOKEN}}'\n");
    assert.notEqual(doc, seed);
    assert.ok(doc.includes('INBOUND_TOKEN: CPX_TEST_INBOUND_TOKEN') && doc.includes("token: '{{INBOUND_TOKEN}}'"), 'the document was rewritten');
    fs.writeFileSync(path.join(dir, 'seed.yaml'), doc);
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir], env: { CAL_COM_CLIENT_SECRET: SECRET, CPX_TEST_INBOUND_TOKEN: TOKEN } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => up.reset());

  test('no or a wrong bearer token: 401 with WWW-Authenticate, nothing upstream', T, async () => {
    for (const auth of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const r = await call(px, '/v1/v2/oauth-clients/abc/users/1', { headers: auth ? { authorization: auth } : {} });
      assertProblem(r, 401);
      assert.match(r.headers['www-authenticate'] || '', /^Bearer /, describeRes(r));
    }
    await assertNothingUpstream(up, 'unauthenticated requests');
  });

  test('the right token passes, and it is not forwarded upstream', T, async () => {
    const r = await call(px, '/v1/v2/oauth-clients/abc/users/1', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(1);
    assert.equal(up.requests[0].headers.authorization, undefined, 'the inbound token stays with capproxy');
    assert.equal(up.requests[0].headers['x-cal-secret-key'], SECRET);
  });

  test('stops cleanly on SIGTERM', T, async () => {
    await stopClean(px);
  });
});

describe('REST: the client connection limit (CAPPROXY_MAX_CONNECTIONS=3)', () => {
  let up;
  let px;
  const agents = [];
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_MAX_CONNECTIONS: '3' } });
  });
  after(async () => {
    for (const a of agents) a.destroy();
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  test('three kept-alive connections are served; a fourth gets 503 and is closed; freed slots are reused', T, async () => {
    const p = '/v1/v2/oauth-clients/abc/users/1';
    for (let i = 0; i < 3; i++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const r = await call(px, p, { agent });
      assert.equal(r.status, 200, `connection ${i + 1}: ${describeRes(r)}`);
    }
    const fourth = await call(px, p); // a new connection (no keep-alive agent)
    assertProblem(fourth, 503);
    assert.equal(fourth.headers.connection, 'close', describeRes(fourth));
    // the kept-alive connections still work
    const again = await call(px, p, { agent: agents[0] });
    assert.equal(again.status, 200, describeRes(again));
    // closing one frees a slot for a new connection
    agents.shift().destroy();
    await sleep(200);
    const after1 = await call(px, p);
    assert.equal(after1.status, 200, describeRes(after1));
  });

  test('connections count from accept: idle sockets fill the limit, and the count returns to 0 when they close', T, async () => {
    const conns = async () => Number(/^capproxy_client_connections (\d+)/m.exec((await request(px.adminUrl, '/metrics')).text)[1]);
    const until = async (want, what) => {
      const deadline = Date.now() + 3000 * SCALE;
      let n;
      while ((n = await conns()) !== want && Date.now() < deadline) await sleep(50);
      assert.equal(n, want, what);
    };
    for (const a of agents.splice(0)) a.destroy();
    await until(0, 'the previous connections are gone');
    const idle = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port: px.rest.port }, () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    try {
      await until(3, 'three connections that sent nothing are counted');
      const fourth = await call(px, '/v1/v2/oauth-clients/abc/users/1');
      assertProblem(fourth, 503);
    } finally {
      idle.forEach((s) => s.destroy());
    }
    await until(0, 'connections closed before any request are uncounted');
  });

  test('stops cleanly on SIGTERM', T, async () => {
    await stopClean(px);
  });
});
