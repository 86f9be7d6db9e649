// The shipped multi-document example (capabilities/examples/shipyard/: a shared-adapter file
// imported by two documents, a bind file, a plain call, an orchestration with a lookup, mocks
// and an aggregate function used through `ref`), run by the real binary against the recording
// upstream over REST and MCP, with the example's own configuration file.
// Run: cd tests/integration && node --test examples.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectHttp, closeClient, callTool, listAllTools, showResult, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DIR = path.join(repoRoot, 'capabilities', 'examples', 'shipyard');
const ARGS = ['-c', path.join(DIR, 'config', 'capproxy.yaml'), `${DIR}/`];

const SHIPS = [
  { imo_number: 'IMO-9321483', vessel_name: 'Northern Star', flag_code: 'NO', operational_status: 'active', assignedCrew: ['CR-2'] },
  { imo_number: 'IMO-9400001', vessel_name: 'Southern Cross', flag_code: 'PA', operational_status: 'docked', assignedCrew: [] },
];
const CREW = [
  { crewId: 'CR-1', fullName: 'Ada Lovelace', role: 'captain' },
  { crewId: 'CR-2', fullName: 'Grace Hopper', role: 'engineer' },
];

function registry(rec) {
  if (rec.path === '/ships') return { status: 200, body: SHIPS };
  const m = /^\/ships\/([^/]+)$/.exec(rec.path);
  if (m) {
    const ship = SHIPS.find((s) => s.imo_number === decodeURIComponent(m[1]));
    return ship ? { status: 200, body: ship } : { status: 404, body: { error: 'no such ship' } };
  }
  if (rec.path === '/crew') return { status: 200, body: CREW };
  return { status: 404, body: { error: 'not found' } };
}

describe('capabilities/examples/shipyard', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ARGS, env: { REGISTRY_BASE_URI: up.url } });
  });
  after(async () => {
    const r = await px?.stop?.();
    await up?.close();
    assert.equal(r?.sanitizer ?? null, null, r?.sanitizer);
  });
  beforeEach(() => {
    up.requests.length = 0;
    up.handle(registry);
  });

  test('validates, and is not among the documents capproxy loads by default', T, async () => {
    const v = await runCapproxy(['validate', '-c', path.join(DIR, 'config', 'capproxy.yaml'), `${DIR}/`]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout + v.stderr, /2 documents valid/);
    const d = await runCapproxy(['validate', 'capabilities/']);
    assert.equal(d.code, 0, d.stderr);
    assert.doesNotMatch(d.stdout + d.stderr, /examples/);
  });

  test('REST: the imported API under its alias, the bound header, the shaped answer', T, async () => {
    const r = await request(px.restUrl, '/ships/IMO-9321483');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { imo: 'IMO-9321483', name: 'Northern Star', flag: 'NO' });
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].path, '/ships/IMO-9321483');
    assert.equal(up.requests[0].headers['registry-version'], '1.0.0-alpha2');
  });

  test('REST: the orchestration runs its steps in order and looks the crew up', T, async () => {
    const r = await request(px.restUrl, '/ships/IMO-9321483/crew');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      imo: 'IMO-9321483',
      name: 'Northern Star',
      crew: [{ fullName: 'Grace Hopper', role: 'engineer' }],
    });
    assert.deepEqual(up.requests.map((q) => q.path), ['/ships/IMO-9321483', '/crew']);
  });

  test('REST: a step the upstream refuses ends the call with its status, naming the step', T, async () => {
    const r = await request(px.restUrl, '/ships/IMO-0000000/crew');
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.step, 'get-ship');
    assert.equal(up.requests.length, 1, 'no step runs after a failing one');
  });

  test('REST: the mock answers without an upstream, typed as declared', T, async () => {
    const r = await request(px.restUrl, '/fleet/status');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { fleet: 'North Sea', ships: 3, operational: true });
    assert.equal(up.requests.length, 0);
  });

  test('REST: the aggregate function behind `ref` (second document, same imported API)', T, async () => {
    const r = await request(px.restUrl, '/fleet/ships?status=active');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, [
      { imo: 'IMO-9321483', name: 'Northern Star' },
      { imo: 'IMO-9400001', name: 'Southern Cross' },
    ]);
    assert.equal(up.requests[0].url, '/ships?status=active');
    assert.equal(up.requests[0].headers['registry-version'], '1.0.0-alpha2');
  });

  test('REST: an orchestrated aggregate function behind `ref`', T, async () => {
    const r = await request(px.restUrl, '/fleet/ships/IMO-9321483/crew');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ship: 'Northern Star', members: [{ fullName: 'Grace Hopper', role: 'engineer' }] });
    assert.deepEqual(up.requests.map((q) => q.path), ['/ships/IMO-9321483', '/crew']);
  });

  test('MCP: the tools of both documents, hints from the function semantics', T, async () => {
    const c = await connectHttp(`${px.mcpUrl}/mcp`);
    try {
      const tools = await listAllTools(c.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), ['crew-of-ship', 'fleet-status', 'get-ship-with-crew', 'list-ships']);
      const ls = tools.find((t) => t.name === 'list-ships');
      assert.equal(ls.description, 'Ships of the registry, optionally by status');
      assert.equal(ls.annotations?.readOnlyHint, true);
      assert.equal(ls.annotations?.idempotentHint, true);

      let res = await callTool(c.client, 'get-ship-with-crew', { imo: 'IMO-9321483' });
      assert.ok(!res.isError, showResult(res));
      assert.deepEqual(res.structuredContent, {
        imo: 'IMO-9321483',
        name: 'Northern Star',
        crew: [{ fullName: 'Grace Hopper', role: 'engineer' }],
      });

      res = await callTool(c.client, 'fleet-status', { fleet: 'Baltic' });
      assert.ok(!res.isError, showResult(res));
      assert.deepEqual(res.structuredContent, { fleet: 'Baltic', ships: 3 });

      const cos = tools.find((t) => t.name === 'crew-of-ship');
      assert.deepEqual(cos.inputSchema.required, ['imo']);
      assert.equal(cos.annotations?.readOnlyHint, true);
      res = await callTool(c.client, 'crew-of-ship', { imo: 'IMO-9321483' });
      assert.ok(!res.isError, showResult(res));
      assert.deepEqual(res.structuredContent, { ship: 'Northern Star', members: [{ fullName: 'Grace Hopper', role: 'engineer' }] });

      res = await callTool(c.client, 'list-ships', {});
      assert.ok(!res.isError, showResult(res));
      assert.equal(up.requests[up.requests.length - 1].url, '/ships');
    } finally {
      await closeClient(c);
    }
  });
});
