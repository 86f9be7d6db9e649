// Output shaping through both front ends: tests/data/shaping/shaping.yaml exposes one consumed
// operation over REST and as an MCP tool with the same outputParameters (nested properties,
// array items with their own arrays, a values map, maxLength in characters, const, a typed
// static value). The recording upstream answers one document; REST's body and MCP's
// structuredContent must be the same shaped JSON.
// Run: cd tests/integration && node --test shaping.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { SCALE, connectHttp, closeClient, callTool, showResult } from './mcp-helpers.mjs';

const T = { timeout: 20_000 * SCALE };
const ARGS = ['-c', 'config/capproxy.yaml', 'tests/data/shaping/shaping.yaml'];

// The upstream's answer, as text: the id is beyond 2^53 and must keep its digits.
const UPSTREAM_TEXT = JSON.stringify({
  data: {
    id: 123,
    name: 'Ålesund fleet',
    secret: 'not shaped in',
    owner: { email: 'ops@example.com', password: 'hidden' },
    ships: [
      { imo: '9321483', name: 'Northern Star', crew: [{ name: 'Ada', ssn: 'x' }, { name: 'Lin' }] },
      { imo: '9400001', name: '😀😀😀😀', crew: [] },
    ],
    ports: { NOOSL: { calls: 12, fee: 1 }, DEHAM: { calls: 3 } },
    tags: ['cargo', 'éé', 'x'],
  },
}).replace('"id":123', '"id":12345678901234567890');

const SHAPED = {
  id: 12345678901234567890, // compared after JSON.parse on both sides; the digits are checked on text
  name: 'Ålesu',
  kind: 'fleet',
  version: 2,
  owner: { email: 'ops@example.com', missing: null },
  ships: [
    { imo: '9321483', label: 'Nor', crew: ['Ada', 'Lin'] },
    { imo: '9400001', label: '😀😀😀', crew: [] },
  ],
  ports: { NOOSL: 12, DEHAM: 3 },
  tags: ['ca', 'éé', 'x'],
};

describe('output shaping, REST and MCP alike', () => {
  let up;
  let px;
  let mcp;

  before(async () => {
    up = await startUpstream();
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: UPSTREAM_TEXT }));
    px = await startProxy({ upstream: up, args: ARGS });
    mcp = await connectHttp(`${px.mcpUrl}/mcp`);
  });

  after(async () => {
    await closeClient(mcp);
    if (px) await px.stop();
    if (up) await up.close();
  });

  test('REST answers the shaped document', T, async () => {
    const r = await request(px.restUrl, '/fleet/f1');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.deepEqual(JSON.parse(r.text), SHAPED);
    assert.match(r.text, /"id":12345678901234567890[,}]/);
    assert.doesNotMatch(r.text, /hidden|not shaped in|ssn|fee/);
    assert.equal(up.requests.at(-1).path, '/fleet/f1');
  });

  test('MCP gives the same JSON as structuredContent and as text', T, async () => {
    const res = await callTool(mcp.client, 'get-fleet', { id: 'f2' });
    assert.ok(!res.isError, showResult(res));
    assert.deepEqual(res.structuredContent, SHAPED);
    const text = res.content[0].text;
    assert.deepEqual(JSON.parse(text), SHAPED);
    assert.match(text, /"id":12345678901234567890[,}]/);
    assert.equal(up.requests.at(-1).path, '/fleet/f2');
  });

  test('missing parts of the answer become null, not an error', T, async () => {
    up.handle(() => ({ status: 200, body: { data: { name: 'Tiny', ships: 'not an array', ports: [1] } } }));
    const want = {
      id: null,
      name: 'Tiny',
      kind: 'fleet',
      version: 2,
      owner: { email: null, missing: null },
      ships: null,
      ports: null,
      tags: null,
    };
    const r = await request(px.restUrl, '/fleet/f3');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, want);
    const res = await callTool(mcp.client, 'get-fleet', { id: 'f3' });
    assert.deepEqual(res.structuredContent, want);
  });

  test('one unnamed static value is the answer, not the upstream document', T, async () => {
    const r = await request(px.restUrl, '/fleet/f4/motto');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '"Fair winds"');
  });

  test('error answers pass through unshaped', T, async () => {
    up.handle(() => ({ status: 404, body: { error: 'no such fleet', secret: 'kept' } }));
    const r = await request(px.restUrl, '/fleet/none');
    assert.equal(r.status, 404);
    assert.deepEqual(r.json, { error: 'no such fleet', secret: 'kept' });
  });
});
