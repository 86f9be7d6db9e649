// MCP integration tests: the real capproxy binary, the seed capability
// (capabilities/cal-com-managed-users.yaml: one MCP adapter, 7 tools) and a recording upstream
// stand-in on 127.0.0.1. The official SDK client over Streamable HTTP (/mcp and the adapter's own
// /mcp/<namespace>) and over stdio (`capproxy mcp-stdio`), and raw HTTP for the transport rules.
// Run: cd tests/integration && node --test mcp.test.mjs   (CAPPROXY_BIN=build-asan/capproxy for ASan)

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream, closedPort } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import {
  SCALE, LATEST, sleep, withTimeout, rpc, show, initMsg, req, openSession,
  connectHttp, closeClient, connectStdio, listAllTools, callTool, showResult, SDKS,
} from './mcp-helpers.mjs';

const SECRET = 'sk-capproxy-MCP-TEST-3c9e1a7f5b2d4068a1e2f3c4d5b6a798';
const CALLER_SECRET = 'caller-own-mcp-secret-8e2f';
const ARG_SECRET = 'argument-secret-must-not-be-used-77aa';

const T = { timeout: 20_000 * SCALE };
const T_LONG = { timeout: 60_000 * SCALE };

const ADAPTER_NS = 'cal-com-deprecated-platform-managed-users-mcp';
const INSTRUCTIONS =
  "MCP adapter for Cal.diy API v2 — Deprecated: Platform / Managed Users. One tool per consumed operation, routed inline through this capability's consumes block.";
const SESSION_RE = /^[\x21-\x7e]{16,}$/;
// only the seed: capabilities/ holds other documents too, whose tools would join /mcp
const SEED_ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-managed-users.yaml'];

// ---------------------------------------------------------------------------------------------
// the 7 tools of the seed, as the adapter must list them and the upstream must see their calls

const CREATE_BODY = {
  email: 'alice@example.com',
  name: 'Alice Ä 😀',
  timeFormat: 24,
  weekStart: 'Monday',
  timeZone: 'Europe/Rome',
  avatarUrl: null,
  nested: { a: [1, 2.5, -3, true, false, null, 'x"y\\z'] },
};
const UPDATE_BODY = { name: 'Bob', timeZone: 'America/New_York', timeFormat: 12, defaultScheduleId: 7 };
const REFRESH_BODY = { refreshToken: 'rt_0123456789abcdef' };

const TOOLS = [
  {
    name: 'get-all-managed-users', description: 'Get all managed users',
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    props: { clientId: 'string', limit: 'number', offset: 'number', emails: 'array' },
    propDescriptions: { limit: 'The number of items to return', offset: 'The number of items to skip' },
    required: ['clientId'],
    args: { clientId: 'cl-list', limit: 10, offset: 20, emails: ['a@example.com', 'b@example.com'] },
    method: 'GET', path: '/v2/oauth-clients/cl-list/users',
    checkQuery(rec) {
      assert.equal(rec.searchParams.get('limit'), '10', `upstream limit; url ${rec.url}`);
      assert.equal(rec.searchParams.get('offset'), '20', `upstream offset; url ${rec.url}`);
      assert.equal(rec.searchParams.getAll('limit').length, 1, `one limit; url ${rec.url}`);
      const emails = rec.searchParams.getAll('emails').flatMap((v) => v.split(','));
      assert.deepEqual(emails, ['a@example.com', 'b@example.com'], `upstream emails (array comma-joined); url ${rec.url}`);
    },
  },
  {
    name: 'create-managed-user', description: 'Create a managed user',
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    props: { clientId: 'string', body: 'object' },
    propDescriptions: { body: /^Request body \(JSON\), a CreateManagedUserInput object\. Required fields: email \(string.*name \(string/ },
    required: ['clientId', 'body'],
    args: { clientId: 'cl-create', body: CREATE_BODY },
    method: 'POST', path: '/v2/oauth-clients/cl-create/users', body: CREATE_BODY,
  },
  {
    name: 'get-managed-user', description: 'Get a managed user',
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
    props: { clientId: 'string', userId: 'number' },
    required: ['clientId', 'userId'],
    args: { clientId: 'cl-get', userId: 42 },
    method: 'GET', path: '/v2/oauth-clients/cl-get/users/42',
  },
  {
    name: 'update-managed-user', description: 'Update a managed user',
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
    props: { clientId: 'string', userId: 'number', body: 'object' },
    propDescriptions: { body: /^Request body \(JSON\), an UpdateManagedUserInput object; every field is optional: email/ },
    required: ['clientId', 'userId', 'body'],
    args: { clientId: 'cl-update', userId: 43, body: UPDATE_BODY },
    method: 'PATCH', path: '/v2/oauth-clients/cl-update/users/43', body: UPDATE_BODY,
  },
  {
    name: 'delete-managed-user', description: 'Delete a managed user',
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
    props: { clientId: 'string', userId: 'number' },
    required: ['clientId', 'userId'],
    args: { clientId: 'cl-delete', userId: 44 },
    method: 'DELETE', path: '/v2/oauth-clients/cl-delete/users/44',
  },
  {
    name: 'force-refresh-tokens', description: 'Force refresh tokens',
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    props: { clientId: 'string', userId: 'number' },
    required: ['clientId', 'userId'],
    args: { userId: 45, clientId: 'cl-force' },
    method: 'POST', path: '/v2/oauth-clients/cl-force/users/45/force-refresh',
  },
  {
    name: 'refresh-managed-user-tokens', description: 'Refresh managed user tokens',
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
    props: { clientId: 'string', body: 'object' },
    propDescriptions: { body: /^Request body \(JSON\), a RefreshTokenInput object\. Required field: refreshToken \(string/ },
    required: ['clientId', 'body'],
    args: { clientId: 'cl-refresh', body: REFRESH_BODY },
    method: 'POST', path: '/v2/oauth/cl-refresh/refresh', body: REFRESH_BODY,
  },
];
const TOOL_NAMES = TOOLS.map((t) => t.name).sort();
const tool = (name) => TOOLS.find((t) => t.name === name);

// ---------------------------------------------------------------------------------------------
// helpers

function assertNoSecret(where, text) {
  assert.ok(!String(text).includes(SECRET), `the configured secret appears in ${where}: ${String(text).slice(0, 500)}`);
}

function headerCount(rec, name) {
  let n = 0;
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i].toLowerCase() === name) n++;
  return n;
}

/** Nothing reached the upstream (give a stray request a moment to arrive). */
async function assertNothingUpstream(up, what, waitMs = 200) {
  await sleep(waitMs);
  assert.deepEqual(up.requests.map((r) => `${r.method} ${r.url}`), [], `nothing must reach the upstream for ${what}`);
}




/** Answer every upstream request with a distinct JSON object, remembered in `sent`. */
function scriptUpstream(up, status = 200) {
  const sent = [];
  up.handle((rec) => {
    const body = {
      status: 'success',
      data: { seq: rec.seq, method: rec.method, path: rec.path, amount: 12.5, list: [1, 'two', null, true], text: 'Ä 😀 "q"' },
    };
    sent.push(body);
    return { status, headers: { 'content-type': 'application/json' }, body };
  });
  return sent;
}

/** A successful tool result: text content = the upstream JSON, structuredContent = the object. */
function assertOkResult(res, expected, what) {
  assert.notEqual(res.isError, true, `${what}: isError must be false/absent; got ${showResult(res)}`);
  assert.ok(Array.isArray(res.content) && res.content.length >= 1, `${what}: content array; got ${showResult(res)}`);
  assert.equal(res.content[0].type, 'text', `${what}: content[0].type; got ${showResult(res)}`);
  let parsed;
  assert.doesNotThrow(() => (parsed = JSON.parse(res.content[0].text)), `${what}: content[0].text is JSON; got ${res.content[0].text}`);
  assert.deepEqual(parsed, expected, `${what}: content[0].text is the upstream JSON`);
  assert.deepEqual(res.structuredContent, expected, `${what}: structuredContent is the upstream object`);
}

function resultText(res) {
  return (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** An error tool result (isError true) whose text names `name` (when given). */
function assertToolError(res, what, name) {
  assert.equal(res.isError, true, `${what}: isError must be true; got ${showResult(res)}`);
  assert.ok(Array.isArray(res.content) && res.content.length >= 1, `${what}: content; got ${showResult(res)}`);
  assert.equal(res.content[0].type, 'text', `${what}: content[0].type; got ${showResult(res)}`);
  if (name) assert.ok(resultText(res).includes(name), `${what}: the error text names ${name}; got ${showResult(res)}`);
  assertNoSecret(`${what} result`, JSON.stringify(res));
}

/** An upstream-failure result (502/504-type): isError, and a problem body, if any, with that status. */
function assertUpstreamFailure(res, status, what) {
  assertToolError(res, what);
  let j;
  try {
    j = JSON.parse(res.content[0].text);
  } catch {
    j = null;
  }
  if (j && typeof j === 'object' && 'status' in j && typeof j.status === 'number') {
    assert.equal(j.status, status, `${what}: the problem body's status; got ${res.content[0].text}`);
  }
}

/** The upstream saw exactly the request this tool must make. */
function assertUpstreamCall(up, rec, t, secret, path = t.path) {
  assert.equal(rec.method, t.method, `${t.name}: upstream method`);
  assert.equal(rec.path, path, `${t.name}: upstream path`);
  if (!t.checkQuery) assert.equal(rec.rawQuery, null, `${t.name}: no upstream query string; got ${rec.url}`);
  else t.checkQuery(rec);
  assert.equal(rec.headers['x-cal-secret-key'], secret, `${t.name}: upstream x-cal-secret-key`);
  assert.equal(headerCount(rec, 'x-cal-secret-key'), 1, `${t.name}: exactly one x-cal-secret-key header upstream`);
  assert.equal(rec.headers.host, `127.0.0.1:${up.port}`, `${t.name}: Host is the upstream host`);
  assert.equal(rec.headers['mcp-session-id'], undefined, `${t.name}: the MCP session id is not forwarded`);
  if (t.body !== undefined) {
    assert.match(rec.headers['content-type'] || '', /^application\/json/, `${t.name}: upstream content type of the JSON body`);
    let got;
    assert.doesNotThrow(() => (got = JSON.parse(rec.bodyText)), `${t.name}: upstream body is JSON: ${rec.bodyText}`);
    assert.deepEqual(got, t.body, `${t.name}: upstream body JSON-equal to the body argument`);
  } else {
    assert.equal(rec.body.length, 0, `${t.name}: no upstream body; got ${rec.bodyText}`);
  }
}

async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report in capproxy's stderr:\n${r.sanitizer}`);
  for (const [i, line] of r.lines.entries()) assertNoSecret(`capproxy stderr line ${i + 1}`, line);
  assert.equal(r.killed, false, 'capproxy stops on SIGTERM without SIGKILL');
  assert.equal(r.signal, null, `capproxy exits by itself on SIGTERM (signal ${r.signal}); stderr tail:\n${r.lines.slice(-20).join('\n')}`);
  assert.equal(r.code, 0, `capproxy exit code after SIGTERM; stderr tail:\n${r.lines.slice(-20).join('\n')}`);
  return r;
}

function mcpProxy(up, env = {}) {
  return startProxy({ upstream: up, args: SEED_ARGS, env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_LOG_LEVEL: 'debug', ...env } });
}

function assertMcpListening(px) {
  assert.ok(px.mcp && px.mcp.port > 0, `an "mcp listening on HOST:PORT" line; stderr:\n${px.stderr()}`);
}

/** A JSON-RPC error answer with that code (HTTP 200 or 400). */
function assertRpcError(r, code, what) {
  assert.ok(r.status === 200 || r.status === 400, `${what}: HTTP 200 or 400 for a JSON-RPC error; got ${show(r)}`);
  assert.ok(r.msg && typeof r.msg === 'object' && !Array.isArray(r.msg), `${what}: one JSON-RPC message; got ${show(r)}`);
  assert.equal(r.msg.jsonrpc, '2.0', `${what}: jsonrpc "2.0"; got ${show(r)}`);
  assert.ok(r.msg.error && typeof r.msg.error === 'object', `${what}: an error member; got ${show(r)}`);
  assert.equal(r.msg.error.code, code, `${what}: error code; got ${show(r)}`);
  assert.equal(typeof r.msg.error.message, 'string', `${what}: error message; got ${show(r)}`);
  assert.equal('result' in r.msg, false, `${what}: no result next to the error; got ${show(r)}`);
}

function assertRpcResult(r, id, what) {
  assert.equal(r.status, 200, `${what}: HTTP 200; got ${show(r)}`);
  assert.match(String(r.headers['content-type'] || ''), /^(application\/json|text\/event-stream)/i, `${what}: content type; got ${show(r)}`);
  assert.ok(r.msg && typeof r.msg === 'object', `${what}: a JSON-RPC message; got ${show(r)}`);
  assert.equal(r.msg.jsonrpc, '2.0', `${what}: jsonrpc "2.0"; got ${show(r)}`);
  assert.strictEqual(r.msg.id, id, `${what}: the id echoed exactly; got ${show(r)}`);
  assert.ok(r.msg.result && typeof r.msg.result === 'object', `${what}: a result; got ${show(r)}`);
  assert.equal('error' in r.msg, false, `${what}: no error; got ${show(r)}`);
}

// ---------------------------------------------------------------------------------------------

for (const sdk of SDKS) {
  describe(`MCP over Streamable HTTP with the SDK ${sdk}.x client (/mcp)`, () => {
    let up;
    let px;
    let c;
    const others = [];
    before(async () => {
      up = await startUpstream();
      px = await mcpProxy(up);
      assertMcpListening(px);
      c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
    });
    after(async () => {
      for (const o of others) await closeClient(o);
      await closeClient(c);
      if (px && !px.exited) await stopClean(px);
      await up?.close();
    });
    beforeEach(() => up.reset());

    test('initialize: server info, tools capability, instructions = the adapter description, session id, protocol version', T, () => {
      const info = c.client.getServerVersion();
      assert.ok(info && typeof info.name === 'string' && info.name.length > 0, `serverInfo.name; got ${JSON.stringify(info)}`);
      assert.equal(typeof info.version, 'string', `serverInfo.version; got ${JSON.stringify(info)}`);
      const caps = c.client.getServerCapabilities();
      assert.ok(caps && caps.tools && typeof caps.tools === 'object', `capabilities.tools; got ${JSON.stringify(caps)}`);
      assert.equal(c.client.getInstructions(), INSTRUCTIONS);
      assert.match(String(c.transport.sessionId), SESSION_RE, 'Mcp-Session-Id: visible ASCII, at least 16 characters');
      assert.equal(c.transport.protocolVersion, LATEST, 'the SDK asks for the latest version and gets it');
      assert.deepEqual(c.errors.map(String), [], 'no transport errors');
    });

    test('tools/list: exactly the 7 tools of the seed', T, async () => {
      const tools = await listAllTools(c.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
    });

    test('tools/list: x-cal-secret-key is never a tool argument, no tool has a title (no label in the seed)', T, async () => {
      const tools = await listAllTools(c.client);
      for (const t of tools) {
        const props = Object.keys(t.inputSchema?.properties || {});
        assert.ok(!props.some((p) => p.toLowerCase() === 'x-cal-secret-key'), `${t.name}: x-cal-secret-key must not be a property; got ${props}`);
        assert.ok(!(t.inputSchema?.required || []).some((p) => p.toLowerCase() === 'x-cal-secret-key'), `${t.name}: x-cal-secret-key must not be required`);
        assert.ok(!JSON.stringify(t).toLowerCase().includes('x-cal-secret-key'), `${t.name}: the tool definition must not mention x-cal-secret-key: ${JSON.stringify(t)}`);
        assert.equal('title' in t, false, `${t.name}: title absent; got ${JSON.stringify(t)}`);
      }
    });

    for (const t of TOOLS) {
      test(`tool ${t.name}: description, annotations and input schema`, T, async () => {
        const tools = await listAllTools(c.client);
        const d = tools.find((x) => x.name === t.name);
        assert.ok(d, `${t.name} listed; got ${tools.map((x) => x.name)}`);
        assert.equal(d.description, t.description, `${t.name}: description`);
        assert.equal('title' in d, false, `${t.name}: no title; got ${JSON.stringify(d)}`);
        assert.deepEqual(d.annotations, t.hints, `${t.name}: annotations exactly the seed's hints (no title, no openWorldHint)`);
        const s = d.inputSchema;
        assert.equal(s.type, 'object', `${t.name}: inputSchema.type`);
        assert.deepEqual(Object.keys(s.properties || {}).sort(), Object.keys(t.props).sort(), `${t.name}: input properties; got ${JSON.stringify(s)}`);
        for (const [p, type] of Object.entries(t.props)) {
          assert.equal(s.properties[p].type, type, `${t.name}: type of ${p}; got ${JSON.stringify(s.properties[p])}`);
        }
        for (const [p, desc] of Object.entries(t.propDescriptions || {})) {
          // the seed's opaque bodies name their fields (issue 11 item 7): matched, not spelt out
          if (desc instanceof RegExp) assert.match(s.properties[p].description, desc, `${t.name}: description of ${p}`);
          else assert.equal(s.properties[p].description, desc, `${t.name}: description of ${p}; got ${JSON.stringify(s.properties[p])}`);
        }
        assert.deepEqual([...(s.required || [])].sort(), [...t.required].sort(), `${t.name}: required; got ${JSON.stringify(s.required)}`);
      });

      test(`tool ${t.name}: call -> exact upstream request (injected secret), result = the upstream JSON`, T, async () => {
        const sent = scriptUpstream(up);
        const res = await callTool(c.client, t.name, t.args);
        await up.waitForRequests(1);
        await sleep(50);
        assert.equal(up.requests.length, 1, `exactly one upstream request; saw ${up.requests.map((r) => `${r.method} ${r.url}`)}`);
        assertUpstreamCall(up, up.requests[0], t, SECRET);
        assertOkResult(res, sent[0], t.name);
        assertNoSecret(`${t.name} result`, JSON.stringify(res));
      });
    }

    test("the MCP client's own x-cal-secret-key HTTP header wins over the configured secret", T, async () => {
      const own = await connectHttp(`${px.mcpUrl}/mcp`, { headers: { 'x-cal-secret-key': CALLER_SECRET }, sdk });
      others.push(own);
      for (const name of ['get-managed-user', 'create-managed-user', 'refresh-managed-user-tokens']) {
        up.reset();
        const sent = scriptUpstream(up);
        const t = tool(name);
        const res = await callTool(own.client, name, t.args);
        await up.waitForRequests(1);
        assertUpstreamCall(up, up.requests[0], t, CALLER_SECRET);
        assertOkResult(res, sent[0], name);
      }
    });

    test('an x-cal-secret-key tool argument is never used as the credential', T, async () => {
      const t = tool('get-managed-user');
      const sent = scriptUpstream(up);
      const res = await callTool(c.client, t.name, { ...t.args, 'x-cal-secret-key': ARG_SECRET });
      if (res.isError) {
        // refusing the argument is fine too, as long as nothing went upstream with it
        for (const rec of up.requests) assert.notEqual(rec.headers['x-cal-secret-key'], ARG_SECRET, 'the argument reached the upstream as the secret');
        return;
      }
      await up.waitForRequests(1);
      assertUpstreamCall(up, up.requests[0], t, SECRET);
      assertOkResult(res, sent[0], t.name);
    });

    test('upstream 404 -> isError true, the upstream body as text; 201 -> not an error', T, async () => {
      const t = tool('get-managed-user');
      const notFound = { status: 'error', timestamp: '2026-01-01T00:00:00.000Z', path: '/v2/oauth-clients/cl-get/users/42', error: { code: 'NotFoundException', message: 'User not found' } };
      up.handle(() => ({ status: 404, headers: { 'content-type': 'application/json' }, body: notFound }));
      let res = await callTool(c.client, t.name, t.args);
      assertToolError(res, 'upstream 404');
      assert.deepEqual(JSON.parse(res.content[0].text), notFound, 'the 404 body passes through as the text content');
      assert.equal(up.requests.length, 1);

      up.reset();
      const created = { status: 'success', data: { user: { id: 2 }, accessToken: 'at', refreshToken: 'rt' } };
      up.handle(() => ({ status: 201, headers: { 'content-type': 'application/json' }, body: created }));
      res = await callTool(c.client, 'create-managed-user', tool('create-managed-user').args);
      assertOkResult(res, created, 'upstream 201');
    });

    test('missing required clientId -> isError naming clientId, nothing upstream', T, async () => {
      const res = await callTool(c.client, 'get-managed-user', { userId: 42 });
      assertToolError(res, 'missing clientId', 'clientId');
      await assertNothingUpstream(up, 'a call without clientId');
    });

    test('missing required userId / body -> isError naming it, nothing upstream', T, async () => {
      let res = await callTool(c.client, 'delete-managed-user', { clientId: 'cl-x' });
      assertToolError(res, 'missing userId', 'userId');
      res = await callTool(c.client, 'create-managed-user', { clientId: 'cl-x' });
      assertToolError(res, 'missing body', 'body');
      await assertNothingUpstream(up, 'calls without a required argument');
    });

    test('userId "abc" (not a number) -> isError naming userId, nothing upstream', T, async () => {
      const res = await callTool(c.client, 'get-managed-user', { clientId: 'cl-x', userId: 'abc' });
      assertToolError(res, 'userId "abc"', 'userId');
      await assertNothingUpstream(up, 'userId "abc"');
    });

    test('limit "ten" (optional, not a number) -> isError naming limit, nothing upstream', T, async () => {
      const res = await callTool(c.client, 'get-all-managed-users', { clientId: 'cl-x', limit: 'ten' });
      assertToolError(res, 'limit "ten"', 'limit');
      await assertNothingUpstream(up, 'limit "ten"');
    });

    test('optional arguments absent -> no upstream query string', T, async () => {
      const sent = scriptUpstream(up);
      const res = await callTool(c.client, 'get-all-managed-users', { clientId: 'cl-plain' });
      await up.waitForRequests(1);
      assert.equal(up.requests[0].url, '/v2/oauth-clients/cl-plain/users', 'no query string for absent optional arguments');
      assertOkResult(res, sent[0], 'get-all-managed-users without options');
    });

    test('clientId with ? # space %, non-ASCII: percent-encoded as one upstream path segment', T, async () => {
      for (const v of ['a?b=1#c', 'a b', '100%', 'ü-😀', 'a;b,c']) {
        up.reset();
        scriptUpstream(up);
        const res = await callTool(c.client, 'get-managed-user', { clientId: v, userId: 1 });
        assert.notEqual(res.isError, true, `clientId ${JSON.stringify(v)}: ${showResult(res)}`);
        await up.waitForRequests(1);
        const rec = up.requests[0];
        assert.equal(rec.rawQuery, null, `clientId ${JSON.stringify(v)}: no query string upstream; got ${rec.url}`);
        assert.match(rec.path, /^\/v2\/oauth-clients\/[^/]+\/users\/1$/, `clientId ${JSON.stringify(v)}: one path segment; got ${rec.url}`);
        assert.ok(!/[\x00-\x20\x7f-\uffff]/.test(rec.path), `clientId ${JSON.stringify(v)}: encoded; got ${JSON.stringify(rec.url)}`);
        assert.equal(decodeURIComponent(rec.path.split('/')[3]), v, `clientId ${JSON.stringify(v)}: the segment decodes to the argument; got ${rec.url}`);
      }
    });

    test('clientId with / or a dot segment: one encoded segment or refused (isError naming clientId), never another upstream path', T, async () => {
      for (const v of ['../a/b', 'a/b', '..', '.', 'a\\b']) {
        up.reset();
        scriptUpstream(up);
        const res = await callTool(c.client, 'get-managed-user', { clientId: v, userId: 1 });
        if (res.isError) {
          assertToolError(res, `clientId ${JSON.stringify(v)}`, 'clientId');
          await assertNothingUpstream(up, `clientId ${JSON.stringify(v)} refused`, 50);
          continue;
        }
        await up.waitForRequests(1);
        const rec = up.requests[0];
        assert.match(rec.path, /^\/v2\/oauth-clients\/[^/]+\/users\/1$/, `clientId ${JSON.stringify(v)}: one path segment; got ${rec.url}`);
        const seg = rec.path.split('/')[3];
        assert.ok(seg !== '.' && seg !== '..', `clientId ${JSON.stringify(v)}: dot segment upstream: ${rec.url}`);
        assert.equal(decodeURIComponent(seg), v, `clientId ${JSON.stringify(v)}: the segment carries the value unchanged; got ${rec.url}`);
      }
    });

    test('several calls in parallel on one session all reach the upstream once each', T, async () => {
      scriptUpstream(up);
      const ids = [101, 102, 103, 104, 105, 106];
      const results = await Promise.all(ids.map((u) => callTool(c.client, 'get-managed-user', { clientId: 'cl-par', userId: u })));
      for (const [i, res] of results.entries()) {
        assert.notEqual(res.isError, true, showResult(res));
        assert.equal(res.structuredContent?.data?.path, `/v2/oauth-clients/cl-par/users/${ids[i]}`, `result ${i} belongs to its call`);
      }
      assert.deepEqual(up.requests.map((r) => r.path).sort(), ids.map((u) => `/v2/oauth-clients/cl-par/users/${u}`).sort());
    });

    test(`the adapter alone at /mcp/${ADAPTER_NS}: initialize, 7 tools, calls`, T, async () => {
      const own = await connectHttp(`${px.mcpUrl}/mcp/${ADAPTER_NS}`, { sdk });
      others.push(own);
      assert.equal(own.client.getInstructions(), INSTRUCTIONS);
      const tools = await listAllTools(own.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
      for (const t of tools) assert.deepEqual(t.annotations, tool(t.name).hints, `${t.name}: annotations at /mcp/${ADAPTER_NS}`);
      for (const name of ['get-managed-user', 'update-managed-user']) {
        up.reset();
        const sent = scriptUpstream(up);
        const t = tool(name);
        const res = await callTool(own.client, name, t.args);
        await up.waitForRequests(1);
        assertUpstreamCall(up, up.requests[0], t, SECRET);
        assertOkResult(res, sent[0], `${name} at /mcp/${ADAPTER_NS}`);
      }
    });

    test('the SDK client terminates its session with DELETE; the id is then unknown (404)', T, async () => {
      const own = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
      const sid = own.transport.sessionId;
      await withTimeout(own.transport.terminateSession(), 5000 * SCALE, 'terminateSession');
      await closeClient(own);
      const r = await rpc(px, req('tools/list'), { session: sid });
      assert.equal(r.status, 404, `a terminated session: 404; got ${show(r)}`);
    });

    test('no transport errors on the SDK client', T, () => {
      assert.deepEqual(c.errors.map(String), []);
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('MCP: upstream failures (CAPPROXY_UPSTREAM_TIMEOUT=500ms)', () => {
  let up;
  let px;
  let c;
  before(async () => {
    up = await startUpstream();
    px = await mcpProxy(up, { CAPPROXY_UPSTREAM_TIMEOUT: '500ms' });
    assertMcpListening(px);
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    await closeClient(c);
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('upstream slower than the time-out -> isError true (504-type), in bounded time', T, async () => {
    up.handle(() => ({ hang: true }));
    const t0 = Date.now();
    const res = await callTool(c.client, 'get-managed-user', tool('get-managed-user').args);
    const ms = Date.now() - t0;
    assertUpstreamFailure(res, 504, 'upstream time-out');
    assert.ok(ms < 5000 * SCALE, `answered after the 500ms time-out, not much later; took ${ms} ms`);
    await up.waitFor((rs) => rs.length === 1 && rs[0].closedAt, 5000, 'the proxy to give up on the upstream request');
    assert.equal(up.requests[0].aborted, true, 'the upstream request was abandoned');
  });

  test('upstream resets the connection -> isError true (502-type)', T, async () => {
    up.handle(() => ({ destroy: true }));
    const res = await callTool(c.client, 'delete-managed-user', tool('delete-managed-user').args);
    assertUpstreamFailure(res, 502, 'upstream reset');
  });

  test('after the failures the session still works', T, async () => {
    const sent = scriptUpstream(up);
    const res = await callTool(c.client, 'get-managed-user', tool('get-managed-user').args);
    assertOkResult(res, sent[0], 'a call after upstream failures');
  });
});

describe('MCP: upstream down (connection refused)', () => {
  let px;
  let c;
  before(async () => {
    const port = await closedPort();
    px = await mcpProxy(`http://127.0.0.1:${port}`);
    assertMcpListening(px);
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    await closeClient(c);
    if (px && !px.exited) await stopClean(px);
  });

  test('every call -> isError true (502-type), the session stays usable', T, async () => {
    for (const name of ['get-all-managed-users', 'create-managed-user']) {
      const res = await callTool(c.client, name, tool(name).args);
      assertUpstreamFailure(res, 502, `${name} with the upstream down`);
    }
    const tools = await listAllTools(c.client);
    assert.equal(tools.length, 7);
  });
});

describe('MCP: no configured secret (CAL_COM_CLIENT_SECRET unset)', () => {
  let up;
  let px;
  let c;
  before(async () => {
    up = await startUpstream();
    px = await mcpProxy(up, { CAL_COM_CLIENT_SECRET: null });
    assertMcpListening(px);
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    await closeClient(c);
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('a call without the client sending x-cal-secret-key -> isError, nothing upstream', T, async () => {
    const res = await callTool(c.client, 'get-managed-user', tool('get-managed-user').args);
    assertToolError(res, 'no credential available');
    await assertNothingUpstream(up, 'a call without any credential');
  });

  test("with the client's own x-cal-secret-key header the call goes through", T, async () => {
    const own = await connectHttp(`${px.mcpUrl}/mcp`, { headers: { 'x-cal-secret-key': CALLER_SECRET } });
    try {
      const sent = scriptUpstream(up);
      const t = tool('delete-managed-user');
      const res = await callTool(own.client, t.name, t.args);
      await up.waitForRequests(1);
      assertUpstreamCall(up, up.requests[0], t, CALLER_SECRET);
      assertOkResult(res, sent[0], 'delete-managed-user with the caller secret');
    } finally {
      await closeClient(own);
    }
  });
});

// ---------------------------------------------------------------------------------------------

for (const sdk of SDKS) {
  describe(`MCP over stdio (capproxy mcp-stdio, SDK ${sdk}.x StdioClientTransport)`, () => {
    let up;
    let s;
    before(async () => {
      up = await startUpstream();
      s = await connectStdio({ upstream: up, args: SEED_ARGS, env: { CAL_COM_CLIENT_SECRET: SECRET }, sdk });
    });
    after(async () => {
      if (s) await withTimeout(s.client.close(), 8000 * SCALE, 'stdio client close').catch(() => {});
      await up?.close();
    });
    beforeEach(() => up.reset());

    test('initialize: server info, instructions, tools capability', T, () => {
      assert.ok(s.client.getServerVersion()?.name, 'serverInfo.name');
      assert.ok(s.client.getServerCapabilities()?.tools, 'capabilities.tools');
      assert.equal(s.client.getInstructions(), INSTRUCTIONS);
    });

    test('tools/list: the 7 tools with the seed annotations, no x-cal-secret-key argument', T, async () => {
      const tools = await listAllTools(s.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOL_NAMES);
      for (const t of tools) {
        assert.deepEqual(t.annotations, tool(t.name).hints, `${t.name}: annotations`);
        assert.deepEqual(Object.keys(t.inputSchema.properties || {}).sort(), Object.keys(tool(t.name).props).sort(), `${t.name}: properties`);
      }
    });

    test('tools/call get-managed-user and create-managed-user reach the upstream with the injected secret', T, async () => {
      for (const name of ['get-managed-user', 'create-managed-user']) {
        up.reset();
        const sent = scriptUpstream(up);
        const t = tool(name);
        const res = await callTool(s.client, name, t.args);
        await up.waitForRequests(1);
        assert.equal(up.requests.length, 1);
        assertUpstreamCall(up, up.requests[0], t, SECRET);
        assertOkResult(res, sent[0], `${name} over stdio`);
      }
    });

    test('invalid arguments over stdio -> isError, nothing upstream', T, async () => {
      const res = await callTool(s.client, 'get-managed-user', { clientId: 'cl-x', userId: 'abc' });
      assertToolError(res, 'userId "abc" over stdio', 'userId');
      await assertNothingUpstream(up, 'userId "abc" over stdio');
    });

    test('stdout carries only JSON-RPC (no transport errors), stderr has no secret and no sanitizer report', T, () => {
      assert.deepEqual(s.errors.map(String), [], 'SDK transport errors (non-JSON on stdout?)');
      for (const [i, line] of s.lines.entries()) assertNoSecret(`mcp-stdio stderr line ${i + 1}`, line);
      assert.equal(s.sanitizer(), null, `sanitizer report:\n${s.sanitizer()}`);
    });

    test('closing stdin ends the process with exit code 0', T, async () => {
      assert.ok(s.child && s.exit, 'the spawned process is known');
      const closing = withTimeout(s.client.close(), 8000 * SCALE, 'stdio client close').catch(() => {});
      // the SDK ends stdin, waits 2 s, then sends SIGTERM: an exit without a signal means EOF was enough
      const r = await withTimeout(s.exit, 8000 * SCALE, 'capproxy mcp-stdio to exit');
      await closing;
      assert.equal(r.signal, null, `exited by itself on stdin EOF, not by signal ${r.signal}; stderr:\n${s.stderr().slice(-2000)}`);
      assert.equal(r.code, 0, `exit code; stderr:\n${s.stderr().slice(-2000)}`);
      assert.equal(s.sanitizer(), null, `sanitizer report:\n${s.sanitizer()}`);
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('MCP Streamable HTTP transport rules (raw HTTP)', () => {
  let up;
  let px;
  let S; // an open session on /mcp
  before(async () => {
    up = await startUpstream();
    px = await mcpProxy(up);
    assertMcpListening(px);
    S = await openSession(px);
  });
  after(async () => {
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('initialize: result has protocolVersion, serverInfo.name, capabilities.tools, instructions; the id is echoed', T, async () => {
    const r = await rpc(px, initMsg(LATEST, 'init-1'));
    assertRpcResult(r, 'init-1', 'initialize');
    const res = r.msg.result;
    assert.equal(res.protocolVersion, LATEST);
    assert.equal(typeof res.serverInfo?.name, 'string', `serverInfo.name; got ${show(r)}`);
    assert.ok(res.serverInfo.name.length > 0);
    assert.equal(typeof res.serverInfo?.version, 'string', `serverInfo.version; got ${show(r)}`);
    assert.ok(res.capabilities?.tools && typeof res.capabilities.tools === 'object', `capabilities.tools; got ${show(r)}`);
    assert.equal(res.instructions, INSTRUCTIONS);
  });

  test('Mcp-Session-Id: visible ASCII, at least 16 characters; two initializes get different ids', T, async () => {
    const a = await rpc(px, initMsg());
    const b = await rpc(px, initMsg());
    for (const r of [a, b]) {
      assert.equal(r.status, 200, show(r));
      assert.match(String(r.headers['mcp-session-id']), SESSION_RE, `session id; got ${show(r)}`);
    }
    assert.notEqual(a.headers['mcp-session-id'], b.headers['mcp-session-id'], 'two sessions, two ids');
    assert.match(S.session, SESSION_RE);
  });

  for (const v of ['2025-03-26', '2025-06-18', '2025-11-25']) {
    test(`initialize with protocolVersion ${v} is answered with ${v}`, T, async () => {
      const r = await rpc(px, initMsg(v, `v-${v}`));
      assertRpcResult(r, `v-${v}`, `initialize ${v}`);
      assert.equal(r.msg.result.protocolVersion, v);
      // the session then works with that version in the header
      const sid = r.headers['mcp-session-id'];
      const l = await rpc(px, req('tools/list', undefined, 'list-after-init'), { session: sid, version: v });
      assertRpcResult(l, 'list-after-init', `tools/list with MCP-Protocol-Version ${v}`);
      assert.equal(l.msg.result.tools.length, 7);
    });
  }

  test('initialize with protocolVersion 1999-01-01 is answered with 2025-11-25', T, async () => {
    const r = await rpc(px, initMsg('1999-01-01', 'old'));
    assertRpcResult(r, 'old', 'initialize 1999-01-01');
    assert.equal(r.msg.result.protocolVersion, LATEST);
  });

  test('MCP-Protocol-Version: 1999-01-01 on a later request -> 400; without the header -> accepted', T, async () => {
    let r = await rpc(px, req('tools/list'), { session: S.session, version: '1999-01-01' });
    assert.equal(r.status, 400, `unsupported MCP-Protocol-Version: 400; got ${show(r)}`);
    r = await rpc(px, req('tools/list', undefined, 'no-version'), { session: S.session, version: false });
    assertRpcResult(r, 'no-version', 'tools/list without MCP-Protocol-Version');
  });

  test('POST with Content-Type text/plain -> 415', T, async () => {
    const r = await rpc(px, initMsg(), { headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 415, show(r));
    const r2 = await rpc(px, req('ping'), { session: S.session, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r2.status, 415, show(r2));
  });

  test('Content-Type application/json; charset=utf-8 is accepted', T, async () => {
    const r = await rpc(px, req('ping', undefined, 'cs'), { session: S.session, headers: { 'content-type': 'application/json; charset=utf-8' } });
    assertRpcResult(r, 'cs', 'ping with charset');
  });

  test('Accept: text/html only -> 406', T, async () => {
    const r = await rpc(px, initMsg(), { headers: { accept: 'text/html' } });
    assert.equal(r.status, 406, show(r));
    const r2 = await rpc(px, req('ping'), { session: S.session, headers: { accept: 'text/html' } });
    assert.equal(r2.status, 406, show(r2));
  });

  // GET opens the server-to-client stream now (live.test.mjs); other methods are refused.
  test('PUT /mcp -> 405, Allow lists POST', T, async () => {
    const r = await rpc(px, undefined, { method: 'PUT', session: S.session, headers: { accept: 'text/event-stream', 'content-type': null } });
    assert.equal(r.status, 405, show(r));
    const allow = String(r.headers.allow || '').split(',').map((x) => x.trim().toUpperCase());
    assert.ok(allow.includes('POST'), `Allow header lists POST; got ${JSON.stringify(r.headers)}`);
  });

  test('a non-initialize request without Mcp-Session-Id -> 400', T, async () => {
    const r = await rpc(px, req('tools/list'));
    assert.equal(r.status, 400, show(r));
    const r2 = await rpc(px, req('tools/call', { name: 'get-managed-user', arguments: { clientId: 'c', userId: 1 } }), { version: LATEST });
    assert.equal(r2.status, 400, show(r2));
    await assertNothingUpstream(up, 'a tools/call without a session');
  });

  test('an unknown Mcp-Session-Id -> 404', T, async () => {
    const r = await rpc(px, req('tools/list'), { session: 'no-such-session-0123456789abcdef' });
    assert.equal(r.status, 404, show(r));
    const r2 = await rpc(px, req('tools/call', { name: 'get-managed-user', arguments: { clientId: 'c', userId: 1 } }), { session: `${S.session}x` });
    assert.equal(r2.status, 404, show(r2));
    await assertNothingUpstream(up, 'a tools/call with an unknown session');
  });

  test('a tampered Mcp-Session-Id (one character changed, truncated) -> 404', T, async () => {
    const id = S.session;
    const flip = (ch) => (ch === 'A' ? 'B' : 'A');
    const variants = [
      id.slice(0, -1) + flip(id.slice(-1)),
      id.slice(0, 8) + flip(id[8]) + id.slice(9),
      flip(id[0]) + id.slice(1),
      id.slice(0, -4),
      id.toLowerCase() === id ? id.toUpperCase() : id.toLowerCase(),
    ].filter((v) => v !== id);
    for (const v of variants) {
      const r = await rpc(px, req('ping'), { session: v });
      assert.equal(r.status, 404, `tampered id ${JSON.stringify(v)} (real ${JSON.stringify(id)}); got ${show(r)}`);
    }
  });

  test('tools/call with arguments that are not an object, or without a name -> -32602 or isError, nothing upstream', T, async () => {
    for (const params of [
      { name: 'get-managed-user', arguments: [1, 2] },
      { name: 'get-managed-user', arguments: 'clientId=c' },
      { arguments: { clientId: 'c', userId: 1 } },
      { name: 42, arguments: {} },
    ]) {
      const r = await rpc(px, req('tools/call', params, 'bad-args'), { session: S.session });
      if (r.msg?.error) {
        assertRpcError(r, -32602, `tools/call ${JSON.stringify(params)}`);
      } else {
        assertRpcResult(r, 'bad-args', `tools/call ${JSON.stringify(params)}`);
        assert.equal(r.msg.result.isError, true, `tools/call ${JSON.stringify(params)}: an error; got ${show(r)}`);
      }
    }
    await assertNothingUpstream(up, 'tools/call with bad params');
  });

  test('DELETE with the session -> 200/204; afterwards that id gets 404', T, async () => {
    const s = await openSession(px);
    let r = await rpc(px, req('ping', undefined, 'before-delete'), { session: s.session });
    assertRpcResult(r, 'before-delete', 'ping before DELETE');
    r = await rpc(px, undefined, { method: 'DELETE', session: s.session, headers: { 'content-type': null } });
    assert.ok(r.status === 200 || r.status === 204, `DELETE: 200 or 204; got ${show(r)}`);
    r = await rpc(px, req('ping'), { session: s.session });
    assert.equal(r.status, 404, `a deleted session: 404; got ${show(r)}`);
    r = await rpc(px, undefined, { method: 'DELETE', session: s.session, headers: { 'content-type': null } });
    assert.equal(r.status, 404, `DELETE again: 404; got ${show(r)}`);
    // other sessions are unaffected
    r = await rpc(px, req('ping', undefined, 'other'), { session: S.session });
    assertRpcResult(r, 'other', 'another session after a DELETE');
  });

  test('a notification -> 202 with an empty body', T, async () => {
    for (const m of [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 12345, reason: 'test' } },
      { jsonrpc: '2.0', method: 'notifications/some-unknown-notification' },
    ]) {
      const r = await rpc(px, m, { session: S.session });
      assert.equal(r.status, 202, `${m.method}: ${show(r)}`);
      assert.equal(r.text, '', `${m.method}: empty body; got ${show(r)}`);
    }
  });

  test('a JSON-RPC response object from the client -> 202 with an empty body', T, async () => {
    for (const m of [
      { jsonrpc: '2.0', id: 99, result: {} },
      { jsonrpc: '2.0', id: 'r-1', error: { code: -32601, message: 'no such method' } },
    ]) {
      const r = await rpc(px, m, { session: S.session });
      assert.equal(r.status, 202, `${JSON.stringify(m)}: ${show(r)}`);
      assert.equal(r.text, '', `empty body; got ${show(r)}`);
    }
  });

  test('malformed JSON -> -32700 with id null', T, async () => {
    for (const bad of ['{"jsonrpc":"2.0","id":1,"method":', 'not json at all', '{"jsonrpc":"2.0","id":1,"method":"ping"} trailing']) {
      const r = await rpc(px, bad, { session: S.session });
      assertRpcError(r, -32700, `malformed ${JSON.stringify(bad)}`);
      assert.ok('id' in r.msg, `id member present; got ${show(r)}`);
      assert.strictEqual(r.msg.id, null, `id null; got ${show(r)}`);
    }
  });

  test('{"jsonrpc":"1.0"} or a missing method -> -32600', T, async () => {
    let r = await rpc(px, { jsonrpc: '1.0', id: 'v1', method: 'ping' }, { session: S.session });
    assertRpcError(r, -32600, 'jsonrpc "1.0"');
    r = await rpc(px, { jsonrpc: '2.0', id: 'nm', params: {} }, { session: S.session });
    assertRpcError(r, -32600, 'missing method');
    r = await rpc(px, { id: 3, method: 'ping' }, { session: S.session });
    assertRpcError(r, -32600, 'missing jsonrpc');
    r = await rpc(px, { jsonrpc: '2.0', id: 4, method: 42 }, { session: S.session });
    assertRpcError(r, -32600, 'method not a string');
  });

  test('an unknown method -> -32601 with the id echoed', T, async () => {
    const r = await rpc(px, req('tools/frobnicate', {}, 'unk-1'), { session: S.session });
    assertRpcError(r, -32601, 'unknown method');
    assert.strictEqual(r.msg.id, 'unk-1');
  });

  test('tools/call of an unknown tool -> -32602 with the id echoed, nothing upstream', T, async () => {
    const r = await rpc(px, req('tools/call', { name: 'no-such-tool', arguments: {} }, 8), { session: S.session });
    assertRpcError(r, -32602, 'unknown tool');
    assert.strictEqual(r.msg.id, 8);
    await assertNothingUpstream(up, 'an unknown tool');
  });

  test('request ids are echoed exactly: "abc-1", 7, "7", 0, -3, 9007199254740991', T, async () => {
    for (const id of ['abc-1', 7, '7', 0, -3, 9007199254740991, 'ünï-😀']) {
      const r = await rpc(px, req('ping', undefined, id), { session: S.session });
      assertRpcResult(r, id, `ping id ${JSON.stringify(id)}`);
    }
    const r = await rpc(px, req('tools/list', undefined, 'abc-1'), { session: S.session });
    assertRpcResult(r, 'abc-1', 'tools/list id "abc-1"');
  });

  // cJSON-style C strings would cut "ab\u0000cd" to "ab": refusing is fine, truncating is not
  test('NUL (\\u0000) in a request id: echoed exactly, or the request refused', T, async () => {
    const r = await rpc(px, req('ping', undefined, 'ab\u0000cd'), { session: S.session });
    if (r.msg?.error) assert.ok([-32600, -32700].includes(r.msg.error.code), `id with NUL refused: ${show(r)}`);
    else assertRpcResult(r, 'ab\u0000cd', 'ping with an id containing \\u0000');
  });

  test('NUL (\\u0000) in a tool name: "get-managed-user\\u0000evil" is not get-managed-user', T, async () => {
    scriptUpstream(up);
    const r = await rpc(px, req('tools/call', { name: 'get-managed-user\u0000evil', arguments: { clientId: 'c', userId: 1 } }, 'nul-name'), { session: S.session });
    assert.ok(r.msg?.error || r.msg?.result?.isError === true, `a tool name with \\u0000 is unknown; got ${show(r)}`);
    await assertNothingUpstream(up, 'tool name "get-managed-user\\u0000evil"');
  });

  // The same with a raw NUL byte instead of the escape (invalid JSON, but cJSON reads it and
  // cuts the string there): found by tests/fuzz/fuzz_jsonpath.
  test('raw NUL byte in a tool name: "get-managed-user<NUL>evil" is refused, nothing upstream', T, async () => {
    scriptUpstream(up);
    const text = JSON.stringify(req('tools/call', { name: 'get-managed-user\u0000evil', arguments: { clientId: 'c', userId: 1 } }, 'raw-nul-name'));
    const body = text.replace('\\u0000', '\u0000');
    assert.ok(body.includes('\u0000') && !body.includes('\\u0000'), 'the body holds a raw NUL byte');
    const r = await rpc(px, body, { session: S.session });
    assert.ok(r.msg?.error, `refused as a JSON-RPC error; got ${show(r)}`);
    assert.strictEqual(r.msg.error.code, -32700, show(r));
    await assertNothingUpstream(up, 'tool name "get-managed-user<NUL>evil"');
  });

  test('NUL (\\u0000) in a path argument: refused, or sent encoded, never cut off', T, async () => {
    scriptUpstream(up);
    const r = await rpc(px, req('tools/call', { name: 'get-managed-user', arguments: { clientId: 'ab\u0000cd', userId: 1 } }, 'nul-arg'), { session: S.session });
    if (r.msg?.error) {
      // Refused as a whole message: the JSON cannot be held without cutting the string.
      assert.ok([-32600, -32700].includes(r.msg.error.code), `refused with -32600/-32700: ${show(r)}`);
      await assertNothingUpstream(up, 'clientId "ab\\u0000cd" refused');
      return;
    }
    assertRpcResult(r, 'nul-arg', 'clientId with \\u0000');
    if (r.msg.result.isError) {
      await assertNothingUpstream(up, 'clientId "ab\\u0000cd" refused');
    } else {
      await up.waitForRequests(1);
      assert.equal(decodeURIComponent(up.requests[0].path.split('/')[3]), 'ab\u0000cd', `clientId "ab\\u0000cd" reached the upstream as ${up.requests[0].url}`);
    }
  });

  test('NUL (\\u0000) in a string of the body argument: refused, or passed on unchanged', T, async () => {
    scriptUpstream(up);
    const body = { name: 'ab\u0000cd', email: 'x@example.com' };
    const r = await rpc(px, req('tools/call', { name: 'create-managed-user', arguments: { clientId: 'c', body } }, 'nul-body'), { session: S.session });
    if (r.msg?.error) {
      assert.ok([-32600, -32700].includes(r.msg.error.code), `refused with -32600/-32700: ${show(r)}`);
      await assertNothingUpstream(up, 'a body with \\u0000 refused');
      return;
    }
    assertRpcResult(r, 'nul-body', 'body with \\u0000');
    if (r.msg.result.isError) {
      await assertNothingUpstream(up, 'a body with \\u0000 refused');
    } else {
      await up.waitForRequests(1);
      assert.deepEqual(JSON.parse(up.requests[0].bodyText), body, `the body reached the upstream changed: ${JSON.stringify(up.requests[0].bodyText)}`);
    }
  });

  test('NUL (\\u0000) in a string of the upstream answer: the result carries it unchanged', T, async () => {
    const answer = { status: 'success', data: { name: 'ab\u0000cd', bio: 'x\u0000' } };
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer) }));
    const t = tool('get-managed-user');
    const r = await rpc(px, req('tools/call', { name: t.name, arguments: t.args }, 'nul-up'), { session: S.session });
    assertRpcResult(r, 'nul-up', 'an upstream answer with \\u0000');
    const res = r.msg.result;
    assert.notEqual(res.isError, true, `isError must be false/absent; got ${showResult(res)}`);
    // The text carries the document unchanged; structuredContent, if given, must not be cut.
    assert.deepEqual(JSON.parse(res.content[0].text), answer, 'content[0].text is the upstream JSON');
    if ('structuredContent' in res) assert.deepEqual(res.structuredContent, answer, 'structuredContent not cut');
  });

  test('a batch array -> -32600', T, async () => {
    const r = await rpc(px, [req('ping', undefined, 'b1'), req('ping', undefined, 'b2')], { session: S.session });
    assert.ok(r.status === 200 || r.status === 400, `HTTP 200 or 400; got ${show(r)}`);
    const msgs = Array.isArray(r.msg) ? r.msg : [r.msg];
    assert.ok(msgs.length >= 1 && msgs.every((m) => m && m.error && m.error.code === -32600), `-32600; got ${show(r)}`);
    assert.ok(msgs.every((m) => !('result' in m)), `no result for a batch; got ${show(r)}`);
  });

  test('ping -> result {}', T, async () => {
    const r = await rpc(px, req('ping', undefined, 'p'), { session: S.session });
    assertRpcResult(r, 'p', 'ping');
    assert.deepEqual(r.msg.result, {});
  });

  test('tools/call over raw HTTP: result content and structuredContent', T, async () => {
    const sent = scriptUpstream(up);
    const t = tool('get-managed-user');
    const r = await rpc(px, req('tools/call', { name: t.name, arguments: t.args }, 'call-1'), { session: S.session });
    assertRpcResult(r, 'call-1', 'tools/call');
    assertOkResult(r.msg.result, sent[0], 'raw tools/call');
    assertUpstreamCall(up, up.requests[0], t, SECRET);
  });

  test('Origin: http://evil.example -> 403, nothing upstream', T, async () => {
    let r = await rpc(px, initMsg(), { headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403, show(r));
    assert.equal(r.headers['mcp-session-id'], undefined, 'no session for a refused Origin');
    const t = tool('get-managed-user');
    r = await rpc(px, req('tools/call', { name: t.name, arguments: t.args }), { session: S.session, headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403, show(r));
    await assertNothingUpstream(up, 'a tools/call from a foreign Origin');
  });

  test('Host: evil.example -> 403 (DNS rebinding)', T, async () => {
    let r = await rpc(px, initMsg(), { headers: { host: 'evil.example' } });
    assert.equal(r.status, 403, show(r));
    r = await rpc(px, initMsg(), { headers: { host: `evil.example:${px.mcp.port}` } });
    assert.equal(r.status, 403, show(r));
    r = await rpc(px, req('ping'), { session: S.session, headers: { host: 'evil.example' } });
    assert.equal(r.status, 403, show(r));
  });

  test('Origin http://localhost:<port> and http://127.0.0.1:<port>, Host localhost:<port> are accepted', T, async () => {
    for (const headers of [
      { origin: `http://localhost:${px.mcp.port}` },
      { origin: `http://127.0.0.1:${px.mcp.port}` },
      { host: `localhost:${px.mcp.port}` },
      { host: `127.0.0.1:${px.mcp.port}` },
    ]) {
      const r = await rpc(px, initMsg(LATEST, 'ok-origin'), { headers });
      assertRpcResult(r, 'ok-origin', `initialize with ${JSON.stringify(headers)}`);
      const p = await rpc(px, req('ping', undefined, 'ok-ping'), { session: r.headers['mcp-session-id'], headers });
      assertRpcResult(p, 'ok-ping', `ping with ${JSON.stringify(headers)}`);
    }
  });

  test(`POST /mcp/${ADAPTER_NS} initializes; an unknown /mcp/<name> -> 404`, T, async () => {
    const r = await rpc(px, initMsg(LATEST, 'own'), { path: `/mcp/${ADAPTER_NS}` });
    assertRpcResult(r, 'own', `initialize at /mcp/${ADAPTER_NS}`);
    assert.equal(r.msg.result.instructions, INSTRUCTIONS);
    const l = await rpc(px, req('tools/list', undefined, 'own-list'), { path: `/mcp/${ADAPTER_NS}`, session: r.headers['mcp-session-id'] });
    assertRpcResult(l, 'own-list', `tools/list at /mcp/${ADAPTER_NS}`);
    assert.deepEqual(l.msg.result.tools.map((t) => t.name).sort(), TOOL_NAMES);
    const n = await rpc(px, initMsg(), { path: '/mcp/no-such-adapter' });
    assert.equal(n.status, 404, show(n));
  });
});

// ---------------------------------------------------------------------------------------------

describe('MCP sessions across connections (2 workers)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await mcpProxy(up, { CAPPROXY_WORKERS: '2' });
    assertMcpListening(px);
  });
  after(async () => {
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  const fresh = { connection: 'close' };

  test('a session opened on one connection is accepted on many fresh connections', T_LONG, async () => {
    const s = await openSession(px, { headers: fresh });
    // sequential fresh connections
    for (let i = 0; i < 12; i++) {
      const id = `seq-${i}`;
      const r = await rpc(px, req(i % 2 ? 'ping' : 'tools/list', undefined, id), { session: s.session, headers: fresh });
      assertRpcResult(r, id, `request ${i} on a fresh connection`);
    }
    // parallel fresh connections
    const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => rpc(px, req('ping', undefined, i), { session: s.session, headers: fresh })));
    rs.forEach((r, i) => assertRpcResult(r, i, `parallel request ${i}`));
  });

  test('tool calls on fresh connections each reach the upstream once', T_LONG, async () => {
    const s = await openSession(px, { headers: fresh });
    scriptUpstream(up);
    const t = tool('get-managed-user');
    for (let i = 0; i < 6; i++) {
      const r = await rpc(px, req('tools/call', { name: t.name, arguments: { clientId: 'cl-conn', userId: 200 + i } }, `c${i}`), { session: s.session, headers: fresh });
      assertRpcResult(r, `c${i}`, `tools/call ${i} on a fresh connection`);
      assert.notEqual(r.msg.result.isError, true, show(r));
    }
    assert.deepEqual(up.requests.map((r) => r.path), Array.from({ length: 6 }, (_, i) => `/v2/oauth-clients/cl-conn/users/${200 + i}`));
  });

  test('a DELETE on one connection ends the session for every connection', T_LONG, async () => {
    const s = await openSession(px, { headers: fresh });
    const d = await rpc(px, undefined, { method: 'DELETE', session: s.session, headers: { ...fresh, 'content-type': null } });
    assert.ok(d.status === 200 || d.status === 204, show(d));
    for (let i = 0; i < 8; i++) {
      const r = await rpc(px, req('ping'), { session: s.session, headers: fresh });
      assert.equal(r.status, 404, `request ${i} after DELETE; got ${show(r)}`);
    }
  });

  test('many sessions on fresh connections are distinct and independent', T_LONG, async () => {
    const sessions = await Promise.all(Array.from({ length: 10 }, () => openSession(px, { headers: fresh })));
    const ids = new Set(sessions.map((s) => s.session));
    assert.equal(ids.size, 10, 'ten distinct session ids');
    const rs = await Promise.all(sessions.map((s, i) => rpc(px, req('ping', undefined, `m${i}`), { session: s.session, headers: fresh })));
    rs.forEach((r, i) => assertRpcResult(r, `m${i}`, `ping on session ${i}`));
  });

  test('an id issued by another capproxy process: 404 without a shared key; accepted with the same CAPPROXY_SESSION_KEY', T_LONG, async () => {
    const key = 'capproxy-test-session-key-0123456789abcdef';
    const a = await mcpProxy(up);
    let b1;
    let b2;
    let b3;
    try {
      const sa = await openSession(a);
      b1 = await mcpProxy(up);
      let r = await rpc(b1, req('ping'), { session: sa.session });
      assert.equal(r.status, 404, `an id from another process (random keys); got ${show(r)}`);

      b2 = await mcpProxy(up, { CAPPROXY_SESSION_KEY: key });
      b3 = await mcpProxy(up, { CAPPROXY_SESSION_KEY: key });
      const s2 = await openSession(b2);
      r = await rpc(b3, req('ping', undefined, 'shared'), { session: s2.session });
      assertRpcResult(r, 'shared', 'an id from a replica with the same CAPPROXY_SESSION_KEY');
      r = await rpc(b1, req('ping'), { session: s2.session });
      assert.equal(r.status, 404, `an id signed with another key; got ${show(r)}`);
    } finally {
      for (const p of [a, b1, b2, b3]) if (p && !p.exited) await stopClean(p);
    }
  });

  test('the SDK client on a non-keep-alive transport (fresh connection per request) works', T, async () => {
    const c = await connectHttp(`${px.mcpUrl}/mcp`, { headers: fresh });
    try {
      const tools = await listAllTools(c.client);
      assert.equal(tools.length, 7);
      const sent = scriptUpstream(up);
      const t = tool('force-refresh-tokens');
      const res = await callTool(c.client, t.name, t.args);
      assertOkResult(res, sent[0], 'force-refresh-tokens on fresh connections');
      assertUpstreamCall(up, up.requests[0], t, SECRET);
    } finally {
      await closeClient(c);
    }
  });
});

// a request of the shared client helper must never hang the suite
test('sanity: the MCP test helpers are bounded', { timeout: 5000 }, async () => {
  await assert.rejects(withTimeout(new Promise(() => {}), 50, 'never'), /timed out/);
  assert.equal(typeof request, 'function');
});
