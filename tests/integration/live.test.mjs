// Live updates over MCP Streamable HTTP (README "MCP"): the GET server-to-client SSE stream and
// notifications/tools/list_changed after a SIGHUP reload, with both SDK clients and raw HTTP
// (session and Accept checks, mcp.maxStreams, keep-alive comments, clientTimeout does not cut
// a stream, the drain ends streams); notifications/cancelled stopping the upstream transfer of
// a tools/call in flight; outputSchema for tools whose outputs are declared, which the 2.x
// client validates structuredContent against.
// Run: cd tests/integration && node --test live.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { SCALE, SDKS, LATEST, connectHttp, closeClient, listAllTools, openSession, rpc, req, show, sleep, withTimeout, showResult } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = path.join(repoRoot, 'tests', 'data', 'live');

function tempDocs() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-live-'));
  fs.copyFileSync(path.join(DATA, 'live.yaml'), path.join(dir, 'live.yaml'));
  return dir;
}

/** Open a raw GET stream; resolves {status, headers, res, text() (read so far), ended (promise)}. */
function openStream(px, { session, accept = 'text/event-stream', version = LATEST } = {}) {
  const u = new URL(`${px.mcpUrl}/mcp`);
  const headers = { accept };
  if (session) headers['mcp-session-id'] = session;
  if (version) headers['mcp-protocol-version'] = version;
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, path: '/mcp', method: 'GET', headers, agent: false }, (res) => {
      let text = '';
      let closed;
      const ended = new Promise((ok) => (closed = ok));
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => closed('end'));
      res.on('error', () => closed('error'));
      res.on('close', () => closed('close'));
      resolve({ status: res.statusCode, headers: res.headers, res, req: r, text: () => text, ended });
    });
    r.on('error', reject);
    r.end();
  });
}

/** Stop capproxy; no sanitizer report (ASan build: CAPPROXY_BIN=build-asan/capproxy). */
async function stopClean(px) {
  if (!px || px.exited) return;
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report in capproxy's stderr:\n${r.sanitizer}`);
}

async function waitFor(cond, ms, what) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** callTool with an AbortSignal, for either SDK generation. */
function callToolAbortable(c, sdk, name, args, signal) {
  const opts = { signal, timeout: 20_000 * SCALE };
  return sdk === 2 ? c.client.callTool({ name, arguments: args }, opts) : c.client.callTool({ name, arguments: args }, undefined, opts);
}

/** Record every message the SDK client receives (both generations set transport.onmessage). */
function tapMessages(c) {
  const seen = [];
  const orig = c.transport.onmessage;
  c.transport.onmessage = (m, extra) => {
    seen.push(m);
    orig?.call(c.transport, m, extra);
  };
  return seen;
}

// =============================================================================================
// 1. list_changed through the SDK clients

for (const sdk of SDKS) {
  describe(`GET stream: tools/list_changed after a reload (SDK ${sdk}.x)`, () => {
    let up;
    let px;
    let dir;
    let c;

    before(async () => {
      dir = tempDocs();
      up = await startUpstream();
      up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
      px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir] });
      c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
    });

    after(async () => {
      await closeClient(c);
      await stopClean(px);
      await up?.close?.();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('initialize advertises tools.listChanged: true', T, async () => {
      const caps = c.client.getServerCapabilities();
      assert.equal(caps?.tools?.listChanged, true, JSON.stringify(caps));
    });

    test('the client opens the GET stream and receives list_changed after SIGHUP adds a tool', T, async () => {
      const seen = tapMessages(c);
      const before = (await listAllTools(c.client)).map((t) => t.name).sort();
      assert.deepEqual(before, ['get-thing', 'get-thing-shaped']);
      // the SDK opens its GET stream after notifications/initialized: wait until the server has it
      await waitFor(() => px.admin && true, 1000, 'admin');
      await sleep(500 * SCALE);
      fs.copyFileSync(path.join(DATA, 'extra.yaml'), path.join(dir, 'extra.yaml'));
      const from = px.lines.length;
      px.child.kill('SIGHUP');
      await px.waitForLine(/reloaded: \d+ documents/, 10_000 * SCALE, from);
      await waitFor(() => seen.some((m) => m.method === 'notifications/tools/list_changed'), 5000 * SCALE, 'notifications/tools/list_changed');
      const after = (await listAllTools(c.client)).map((t) => t.name).sort();
      assert.deepEqual(after, ['get-other', 'get-thing', 'get-thing-shaped']);
      assert.deepEqual(c.errors.map(String), [], 'no transport errors');
    });

    test('a reload that changes no tool sends nothing', T, async () => {
      const seen = tapMessages(c);
      const from = px.lines.length;
      px.child.kill('SIGHUP');
      await px.waitForLine(/reloaded: \d+ documents/, 10_000 * SCALE, from);
      await sleep(500 * SCALE);
      assert.equal(seen.filter((m) => m.method === 'notifications/tools/list_changed').length, 0);
    });
  });
}

// =============================================================================================
// 2. the GET stream over raw HTTP

describe('GET stream rules (raw HTTP)', () => {
  let up;
  let px;
  let S;

  before(async () => {
    up = await startUpstream();
    px = await startProxy({
      upstream: up,
      args: ['-c', 'config/capproxy.yaml', path.join(DATA, 'live.yaml')],
      env: { CAPPROXY_MCP_MAX_STREAMS: '2', CAPPROXY_MCP_KEEPALIVE: '200ms', CAPPROXY_CLIENT_TIMEOUT: '1s' },
    });
    S = await openSession(px);
  });

  after(async () => {
    await stopClean(px);
    await up?.close?.();
  });

  test('GET without Mcp-Session-Id -> 400; a forged one -> 404', T, async () => {
    const a = await openStream(px, {});
    assert.equal(a.status, 400);
    await a.ended;
    const b = await openStream(px, { session: 'AAAA' + S.session.slice(4) });
    assert.equal(b.status, 404);
    await b.ended;
  });

  test('GET without text/event-stream in Accept -> 406', T, async () => {
    const a = await openStream(px, { session: S.session, accept: 'application/json' });
    assert.equal(a.status, 406);
    assert.match(a.headers['content-type'], /application\/json/);
    await a.ended;
  });

  test('a stream sends keep-alive comments and outlives clientTimeout', T, async () => {
    const s = await openStream(px, { session: S.session });
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'], /^text\/event-stream/);
    await sleep(1800 * SCALE);
    assert.match(s.text(), /^: keep-alive\n\n/);
    assert.ok(s.text().split(': keep-alive').length - 1 >= 3, `several keep-alives: ${JSON.stringify(s.text())}`);
    assert.ok(!s.res.complete, 'still open after clientTimeout (1s)');
    s.req.destroy();
  });

  test('mcp.maxStreams bounds open streams (503), and a closed one frees its place', T, async () => {
    const a = await openStream(px, { session: S.session });
    const b = await openStream(px, { session: S.session });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await openStream(px, { session: S.session });
    assert.equal(c.status, 503);
    await c.ended;
    a.req.destroy();
    let d;
    await waitFor(async () => {
      d = await openStream(px, { session: S.session });
      if (d.status === 200) return true;
      await d.ended;
      return false;
    }, 5000 * SCALE, 'a place after closing a stream');
    b.req.destroy();
    d.req.destroy();
  });

  test('SIGTERM ends open streams cleanly and the process exits without waiting for drainTimeout', T, async () => {
    await sleep(200);
    const s = await openStream(px, { session: S.session });
    assert.equal(s.status, 200);
    const t0 = Date.now();
    px.child.kill('SIGTERM');
    assert.equal(await withTimeout(s.ended, 5000 * SCALE, 'stream end'), 'end', 'the stream ended with its last chunk');
    await withTimeout(new Promise((ok) => (px.exited ? ok() : px.child.on('exit', ok))), 8000 * SCALE, 'exit');
    assert.ok(Date.now() - t0 < 8000, 'well before drainTimeout (10 s)');
  });
});

describe('mcp.maxStreams 0: no stream offered', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', path.join(DATA, 'live.yaml')], env: { CAPPROXY_MCP_MAX_STREAMS: '0' } });
  });
  after(async () => {
    await stopClean(px);
    await up?.close?.();
  });

  test('GET -> 405 and initialize says listChanged: false', T, async () => {
    const S = await openSession(px);
    assert.equal(S.init.msg.result.capabilities.tools.listChanged, false);
    const a = await openStream(px, { session: S.session });
    assert.equal(a.status, 405);
    assert.ok(!/GET/.test(a.headers.allow), a.headers.allow);
    await a.ended;
  });
});

// =============================================================================================
// 3. notifications/cancelled

describe('notifications/cancelled stops the upstream transfer', () => {
  let up;
  let px;

  before(async () => {
    up = await startUpstream();
    up.handle((rec) => (/\/things\/hang/.test(rec.path) ? { hang: true } : { status: 200, body: { id: 7, name: 'seven', tags: ['a'], owner: { email: 'o@x' } } }));
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', path.join(DATA, 'live.yaml')] });
  });

  after(async () => {
    await stopClean(px);
    await up?.close?.();
  });

  test('raw: the cancelled POST gets an empty event stream; the notification 202; the upstream sees the abort', T, async () => {
    const S = await openSession(px);
    const n = up.requests.length;
    const call = rpc(px, req('tools/call', { name: 'get-thing', arguments: { id: 'hang-raw' } }, 'call-1'), { session: S.session });
    await up.waitForRequests(n + 1, 5000 * SCALE);
    const note = await rpc(px, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'call-1', reason: 'test' } }, { session: S.session });
    assert.equal(note.status, 202, show(note));
    const r = await call;
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers['content-type'], /^text\/event-stream/);
    assert.deepEqual(r.messages, [], 'no response for the cancelled request');
    await waitFor(() => up.requests[n].aborted, 5000 * SCALE, 'the upstream request aborted');
  });

  test('raw: a JSON-only client gets -32800; another session cannot cancel it', T, async () => {
    const S = await openSession(px);
    const other = await openSession(px);
    const n = up.requests.length;
    const call = rpc(px, req('tools/call', { name: 'get-thing', arguments: { id: 'hang-json' } }, 42), { session: S.session, headers: { accept: 'application/json' } });
    await up.waitForRequests(n + 1, 5000 * SCALE);
    const wrong = await rpc(px, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 42 } }, { session: other.session });
    assert.equal(wrong.status, 202);
    await sleep(200);
    assert.equal(up.requests[n].aborted, false, 'another session did not cancel it');
    await rpc(px, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 42 } }, { session: S.session });
    const r = await call;
    assert.equal(r.status, 200, show(r));
    assert.equal(r.msg?.error?.code, -32800, show(r));
    assert.equal(r.msg?.id, 42);
    await waitFor(() => up.requests[n].aborted, 5000 * SCALE, 'the upstream request aborted');
  });

  for (const sdk of SDKS) {
    test(`SDK ${sdk}.x: aborting callTool sends notifications/cancelled and the upstream sees the abort`, T, async () => {
      const c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
      try {
        const n = up.requests.length;
        const ac = new AbortController();
        const p = callToolAbortable(c, sdk, 'get-thing', { id: `hang-sdk${sdk}` }, ac.signal);
        await up.waitForRequests(n + 1, 5000 * SCALE);
        ac.abort('test');
        await assert.rejects(p);
        await waitFor(() => up.requests[n].aborted, 5000 * SCALE, 'the upstream request aborted');
        // the session still works
        const ok = await callToolAbortable(c, sdk, 'get-thing', { id: '1' }, undefined);
        assert.ok(!ok.isError, showResult(ok));
      } finally {
        await closeClient(c);
      }
    });
  }
});

// =============================================================================================
// 4. outputSchema

for (const sdk of SDKS) {
  describe(`outputSchema and structuredContent (SDK ${sdk}.x)`, () => {
    let up;
    let px;
    let c;
    let answer = { id: 7, name: 'seven', tags: ['a', 'b'], owner: { email: 'o@example.com' }, extra: 'dropped' };

    before(async () => {
      up = await startUpstream();
      up.handle(() => ({ status: 200, body: answer }));
      px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', path.join(DATA, 'live.yaml')] });
      c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
    });

    after(async () => {
      await closeClient(c);
      await stopClean(px);
      await up?.close?.();
    });

    test('a tool with declared outputs has an outputSchema; one without has none', T, async () => {
      const tools = await listAllTools(c.client);
      const shaped = tools.find((t) => t.name === 'get-thing-shaped');
      const plain = tools.find((t) => t.name === 'get-thing');
      assert.equal(plain.outputSchema, undefined);
      assert.deepEqual(shaped.outputSchema, {
        type: 'object',
        properties: {
          id: { type: ['integer', 'null'] },
          name: { type: ['string', 'null'] },
          tags: { type: ['array', 'null'], items: { type: ['string', 'null'] } },
          owner: { type: ['object', 'null'], properties: { email: { type: ['string', 'null'] } }, required: ['email'] },
          kind: { const: 'thing' },
        },
        required: ['id', 'name', 'tags', 'owner', 'kind'],
      });
    });

    test('callTool: structuredContent matches the schema (the client validates it)', T, async () => {
      answer = { id: 7, name: 'seven', tags: ['a', 'b'], owner: { email: 'o@example.com' }, extra: 'dropped' };
      const r = await callToolAbortable(c, sdk, 'get-thing-shaped', { id: '7' }, undefined);
      assert.ok(!r.isError, showResult(r));
      assert.deepEqual(r.structuredContent, { id: 7, name: 'seven', tags: ['a', 'b'], owner: { email: 'o@example.com' }, kind: 'thing' });
      // missing paths give null, which the schema admits
      answer = { id: 8 };
      const r2 = await callToolAbortable(c, sdk, 'get-thing-shaped', { id: '8' }, undefined);
      assert.ok(!r2.isError, showResult(r2));
      assert.deepEqual(r2.structuredContent, { id: 8, name: null, tags: null, owner: null, kind: 'thing' });
    });

    test('an upstream answer of other types than declared is a tool error naming the field', T, async () => {
      answer = { id: 'not-a-number', name: 'x' };
      const r = await callToolAbortable(c, sdk, 'get-thing-shaped', { id: '9' }, undefined);
      assert.equal(r.isError, true, showResult(r));
      assert.equal(r.structuredContent, undefined);
      assert.match(r.content[0].text, /declared outputs: \/id is a string, expected integer or null/);
      assert.match(r.content[1].text, /not-a-number/, 'the shaped answer is kept as text');
    });
  });
}
