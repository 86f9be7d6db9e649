// Forward resources through REST: the real capproxy binary, tests/data/forward/forward.yaml and
// a recording upstream. The upstream must get the rest of the path, the query, the method and
// the raw body as sent, only the trusted headers, the namespace's own parameters and its
// credential; the answer comes back as the upstream gave it.
// Run: cd tests/integration && node --test forward.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';

const TOKEN = 'fwd-token-7c2e91d04b';
const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 20_000 * SCALE };

describe('forward resources', () => {
  let up;
  let px;

  before(async () => {
    up = await startUpstream();
    px = await startProxy({
      args: ['-c', 'tests/data/forward/capproxy.yaml', 'tests/data/forward/forward.yaml'],
      env: { CPX_FWD_BASE: up.url, CPX_FWD_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await px?.stop?.();
    await up?.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
    up.handle(null);
  });

  const last = () => up.requests[up.requests.length - 1];

  test('GET: rest of the path and query as received, only trusted headers', T, async () => {
    const r = await request(px.restUrl, '/legacy/pages/a%20b/c%3Bd?filter=x%2By&flag&q=%C3%A9', {
      headers: {
        'X-Trace': 'trace-1',
        Accept: 'application/json',
        Cookie: 'session=should-not-leave',
        'X-Evil': 'no',
        Authorization: 'Bearer caller-untrusted',
        'Notion-Version': 'caller-version',
      },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.requests.length, 1);
    const q = last();
    assert.equal(q.method, 'GET');
    assert.equal(q.url, '/v1/pages/a%20b/c%3Bd?filter=x%2By&flag&q=%C3%A9&tenant=acme');
    assert.equal(q.headers['x-trace'], 'trace-1');
    assert.equal(q.headers.accept, 'application/json');
    assert.equal(q.headers.cookie, undefined);
    assert.equal(q.headers['x-evil'], undefined);
    // The consumed namespace's own parameter and credential, not the caller's untrusted ones.
    assert.equal(q.headers['notion-version'], '2025-09-03');
    assert.equal(q.headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(q.headers['x-request-id'], 'X-Request-Id is sent');
    assert.equal(q.headers.host, new URL(up.url).host);
    assert.ok(!JSON.stringify(r.headers).includes(TOKEN) && !r.text.includes(TOKEN));
  });

  test('POST: the raw body bytes and their Content-Type, the answer passes through', T, async () => {
    const body = Buffer.from([0x00, 0xff, 0x10, 0x41, 0x0d, 0x0a, 0x7b]);
    up.handle(() => ({ status: 201, headers: { 'content-type': 'text/csv', 'x-upstream': 'yes' }, body: 'a,b\n1,2\n' }));
    const r = await request(px.restUrl, '/legacy/upload/file.bin', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream; x=1' },
      body,
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers['content-type'], 'text/csv');
    assert.equal(r.headers['x-upstream'], 'yes');
    assert.equal(r.text, 'a,b\n1,2\n');
    const q = last();
    assert.equal(q.method, 'POST');
    assert.equal(q.path, '/v1/upload/file.bin');
    assert.deepEqual([...q.body], [...body]);
    assert.equal(q.headers['content-type'], 'application/octet-stream; x=1');
  });

  test('POST with JSON that capproxy would refuse as input goes as it is', T, async () => {
    const text = '{"a": 1, "a": 2, "unknown": [1e400]}';
    const r = await request(px.restUrl, '/legacy/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(last().bodyText, text);
  });

  test('DELETE, PUT and PATCH keep their method', T, async () => {
    for (const method of ['DELETE', 'PUT', 'PATCH']) {
      up.handle(() => ({ status: 204 }));
      const r = await request(px.restUrl, `/legacy/items/42`, { method });
      assert.equal(r.status, 204, `${method}: ${r.text}`);
      assert.equal(last().method, method);
      assert.equal(last().path, '/v1/items/42');
    }
  });

  test('upstream errors pass through unmapped', T, async () => {
    up.handle(() => ({ status: 404, headers: { 'content-type': 'application/json' }, body: { error: 'nope' } }));
    const r = await request(px.restUrl, '/legacy/missing');
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { error: 'nope' });
  });

  test('paths that could leave the base path are refused before anything is sent', T, async () => {
    for (const p of ['/legacy/a/%2e%2e/admin', '/legacy/a%2Fb', '/legacy/a/./b', '/legacy/a//b', '/legacy/%5C']) {
      const r = await request(px.restUrl, p);
      assert.equal(r.status, 400, `${p}: ${r.status} ${r.text}`);
      assert.equal(r.json?.parameter, 'path', r.text);
    }
    assert.equal(up.requests.length, 0);
    // The prefix alone is no forward route.
    const r = await request(px.restUrl, '/legacy/');
    assert.equal(r.status, 404);
    assert.equal(up.requests.length, 0);
  });

  test('operations and forward on one resource: the operation keeps its method', T, async () => {
    const g = await request(px.restUrl, '/orders');
    assert.equal(g.status, 200, g.text);
    assert.equal(last().path, '/v1/ping');
    up.handle(() => ({ status: 202, body: { forwarded: true } }));
    const p = await request(px.restUrl, '/orders?x=1', { method: 'POST', body: { a: 1 } });
    assert.equal(p.status, 202, p.text);
    assert.equal(last().url, '/v1?x=1&tenant=acme');
    assert.equal(last().method, 'POST');
  });

  test("the adapter's own inbound credential never travels, even when trusted", T, async () => {
    const no = await request(px.restUrl, '/secure/x');
    assert.equal(no.status, 401, no.text);
    assert.equal(up.requests.length, 0);
    const r = await request(px.restUrl, '/secure/x?y=1', { headers: { 'X-Gw-Key': 'gw-secret-31f0', 'X-Trace': 't2' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(last().url, '/v1/x?y=1&tenant=acme');
    assert.equal(last().headers['x-gw-key'], undefined);
    assert.equal(last().headers['x-trace'], 't2');
  });

  test('the upstream down gives 502', T, async () => {
    up.handle(() => ({ destroy: true }));
    const r = await request(px.restUrl, '/legacy/x');
    assert.equal(r.status, 502, r.text);
  });
});
