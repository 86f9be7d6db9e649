// Review of issue 13's MCP request-side shortcuts: each fast path must answer exactly what the
// general path it skips answers. Accept and Host fast paths against their general parsers, and a
// tools/call's id (now moved out of the message instead of copied) echoed as written, for every
// id shape. Run: cd tests/integration && node --test mcp-fastpath.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { SCALE, rpc, show, req, openSession } from './mcp-helpers.mjs';

const T = { timeout: 20_000 * SCALE };
const SEED_ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-managed-users.yaml'];

describe('MCP request fast paths answer as the general paths do', () => {
  let up;
  let px;
  let S;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({
      upstream: up,
      args: SEED_ARGS,
      env: { CAL_COM_CLIENT_SECRET: 'sk-fastpath-secret-0123456789abcdef' },
    });
    assert.ok(px.mcp && px.mcp.port > 0, `mcp listening; stderr:\n${px.stderr()}`);
    S = await openSession(px);
  });
  after(async () => {
    if (px && !px.exited) {
      const r = await px.stop();
      assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
      assert.equal(r.code, 0, `exit code; stderr tail:\n${r.lines.slice(-20).join('\n')}`);
    }
    await up?.close();
  });

  // The general Accept parser skips a range of 128 bytes or more (its buffer): a first range
  // "application/json;<long parameters>" is not read as admitting JSON, with or without the
  // fast path for the SDKs' usual "application/json, text/event-stream".
  test('Accept: application/json with parameters of 128 bytes or more -> 406, as before', T, async () => {
    const long = `application/json;p=${'x'.repeat(120)}`;
    const r = await rpc(px, req('ping', undefined, 'acc-long'), { session: S.session, headers: { accept: long } });
    assert.equal(r.status, 406, show(r));
    const ok = `application/json;p=${'x'.repeat(80)}, text/event-stream`;
    const r2 = await rpc(px, req('ping', undefined, 'acc-short'), { session: S.session, headers: { accept: ok } });
    assert.equal(r2.status, 200, show(r2));
    const r3 = await rpc(px, req('ping', undefined, 'acc-q0'), { session: S.session, headers: { accept: 'application/json;q=0' } });
    assert.equal(r3.status, 200, show(r3)); // the general parser does not read q (unchanged)
    const r4 = await rpc(px, req('ping', undefined, 'acc-x'), { session: S.session, headers: { accept: 'application/jsonx' } });
    assert.equal(r4.status, 406, show(r4));
  });

  test('Host: local names with the bound port pass, other ports and names do not', T, async () => {
    const port = px.mcp.port;
    const cases = [
      [`127.0.0.1:${port}`, 200],
      [`localhost:${port}`, 200],
      [`LOCALHOST:${port}`, 200],
      [`[::1]:${port}`, 200],
      [`localhost:0${port}`, null], // the general parser decides: compared with it below
      [`127.0.0.1:${port + 1}`, 403],
      [`localhost:${port}0`, 403],
      [`evil.example:${port}`, 403],
      [`127.0.0.1:${port}x`, 403],
    ];
    for (const [host, want] of cases) {
      const r = await rpc(px, req('ping', undefined, `h-${host}`), { session: S.session, headers: { host } });
      if (want !== null) assert.equal(r.status, want, `Host ${host}: ${show(r)}`);
      else assert.ok(r.status === 200 || r.status === 403 || r.status === 400, `Host ${host}: ${show(r)}`);
    }
  });

  // The id moves from the message to the call: it must still be echoed byte for byte, whatever
  // its JSON type, on the success path.
  test('tools/call echoes every id shape as written', T, async () => {
    const ids = ['12345678901234567890', '-12345678901234567890', '7', '-1.5', '1e3', '"s-\\"q\\"-\\u00e9"', '""', '0'];
    for (const id of ids) {
      const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"get-all-managed-users","arguments":{"clientId":"cl-${ids.indexOf(id)}"}}}`;
      const r = await rpc(px, body, { session: S.session });
      assert.equal(r.status, 200, `id ${id}: ${show(r)}`);
      const want = JSON.parse(id);
      assert.deepEqual(r.msg?.id, want, `id ${id}: ${show(r)}`);
      if (/^-?\d{16,}$/.test(id)) assert.ok(r.text.includes(`"id":${id}`), `id ${id} digits kept: ${show(r)}`);
      assert.ok(r.msg?.result, `id ${id}: a result: ${show(r)}`);
    }
  });
});
