// The reply path after issue 13's front-side speed work: every reply of a loop pass is written
// at the end of that pass (conn.c conn_flush_later), and an MCP tool whose output is the whole
// upstream document gets that document's own text as structuredContent (mcptool.c). These
// tests hold what must not change: order, completeness and connection handling of replies, and
// the tool result's content.
// Run: cd tests/integration && node --test speedfront.test.mjs   (CAPPROXY_BIN=build-asan/capproxy)

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const SECRET = 'sk-speedfront-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const MCP_PATH = '/mcp/cal-com-deprecated-platform-managed-users-mcp';

/** Send <bytes> on one connection; collect everything until the server closes or <ms> pass. */
function converse(port, bytes, ms) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => sock.write(bytes, 'latin1'));
    const chunks = [];
    let closed = false;
    const t = setTimeout(() => sock.destroy(), ms);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => (closed = true));
    sock.on('close', () => {
      clearTimeout(t);
      resolve({ buf: Buffer.concat(chunks), closed });
    });
    sock.on('error', () => {});
  });
}

/** The responses in <buf>, in order: [{status, headers, body}] (Content-Length framing). */
function responses(buf) {
  const out = [];
  let at = 0;
  while (at < buf.length) {
    const sep = buf.indexOf('\r\n\r\n', at);
    if (sep < 0) break;
    const head = buf.subarray(at, sep).toString('latin1').split('\r\n');
    const headers = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers['content-length'] || 0);
    if (buf.length < sep + 4 + len) break;
    out.push({ status: Number(head[0].split(' ')[1]), headers, body: buf.subarray(sep + 4, sep + 4 + len) });
    at = sep + 4 + len;
  }
  return out;
}

const get = (p, extra = '') => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

describe('replies written once per loop pass', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET } });
  });
  after(async () => {
    if (px && !px.exited) {
      const r = await px.stop();
      assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
    }
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('pipelined requests: every answer, in order, and the connection stays open', T, async () => {
    up.handle((req) => ({ status: 200, body: { status: 'success', data: { path: req.path } } }));
    const ids = [11, 12, 13, 14, 15];
    const bytes = ids.map((i) => get(`/v1/v2/oauth-clients/pipe/users/${i}`)).join('')
      + get('/v1/no/such/route'); // answered at once (404), behind the forwarded ones
    const { buf, closed } = await converse(px.rest.port, bytes, 2000 * SCALE);
    const rs = responses(buf);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200, 404], buf.toString('latin1').slice(0, 800));
    ids.forEach((i, k) => assert.equal(JSON.parse(rs[k].body).data.path, `/v2/oauth-clients/pipe/users/${i}`));
    assert.equal(closed, false, 'a keep-alive connection is not closed after its replies');
  });

  test('Connection: close: the answer is complete, then the connection closes', T, async () => {
    const { buf, closed } = await converse(px.rest.port, get('/v1/v2/oauth-clients/cc/users/1', 'Connection: close\r\n'), 5000 * SCALE);
    const rs = responses(buf);
    assert.equal(rs.length, 1);
    assert.equal(rs[0].status, 200);
    assert.equal(closed, true);
  });

  test('a reply larger than the socket takes at once arrives whole (the bufferevent writes the rest)', T, async () => {
    const big = 'x'.repeat(6 * 1024 * 1024);
    up.handle(() => ({ status: 200, body: { status: 'success', data: { big } } }));
    const r = await request(px.restUrl, '/v1/v2/oauth-clients/big/users/1');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.big.length, big.length);
  });

  test('many clients at once, some hanging up before their answer: every other one is answered', T, async () => {
    up.handle(() => ({ status: 200, delayMs: 30, body: { status: 'success', data: {} } }));
    const gone = Array.from({ length: 20 }, () => new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: px.rest.port }, () => {
        s.write(get('/v1/v2/oauth-clients/gone/users/1'));
        setTimeout(() => { s.destroy(); resolve(); }, 5);
      });
      s.on('error', resolve);
    }));
    const kept = Array.from({ length: 40 }, (_, i) => request(px.restUrl, `/v1/v2/oauth-clients/kept/users/${i}`));
    await Promise.all(gone);
    const rs = await Promise.all(kept);
    assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
    const again = await request(px.restUrl, '/v1/v2/oauth-clients/after/users/1');
    assert.equal(again.status, 200);
  });
});

describe('MCP tools/call: the upstream document as structuredContent', () => {
  let up;
  let px;
  let sid;
  const post = (body) => request(px.mcpUrl ?? `http://127.0.0.1:${px.mcp.port}`, MCP_PATH, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(sid ? { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' } : {}),
    },
    body: JSON.stringify(body),
  });
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET } });
    const r = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    sid = r.headers['mcp-session-id'];
    assert.ok(sid, `a session id; got ${r.status} ${r.text}`);
  });
  after(async () => {
    if (px && !px.exited) {
      const r = await px.stop();
      assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
    }
    await up?.close();
  });

  const call = (id) => post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'get-managed-user', arguments: { clientId: 'abc', userId: 42 } } });

  test('pretty-printed upstream JSON: the text unchanged, structuredContent the same object, compact', T, async () => {
    const text = '{\n  "status": "success",\n  "data": {"id": 42, "price": 2.50, "big": 12345678901234567890,\n'
      + '  "name": "A \\"quoted\\" caf\u00e9 \\u00e9 \\n", "tags": ["a", "b"], "none": null, "ok": true}\n}\n';
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: text }));
    const r = await call(7);
    assert.equal(r.status, 200, r.text);
    const res = r.json.result;
    assert.equal(r.json.id, 7);
    assert.equal(res.content[0].type, 'text');
    assert.equal(res.content[0].text, text);
    assert.deepEqual(res.structuredContent, JSON.parse(text));
    assert.equal(res.isError, undefined);
    assert.deepEqual(res._meta, { upstreamStatus: 200 });
    // cJSON read the document and printed it compact; a big integer keeps its digits
    assert.match(r.text, /"structuredContent":\{"status":"success","data":\{"id":42,"price":2\.5,"big":12345678901234567890,/);
  });

  test('an upstream answer that is not a plain object keeps the general result', T, async () => {
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '[1,2]' }));
    let r = await call(8);
    assert.equal(r.json.result.content[0].text, '[1,2]');
    assert.equal(r.json.result.structuredContent, undefined);
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"a":"tab\there"}' }));
    r = await call(9);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, '{"a":"tab\there"}');
    assert.deepEqual(r.json.result.structuredContent, { a: 'tab\there' });
  });
});
