// Orchestration and mock integration tests: tests/data/orchestration/shipyard.yaml (tutorial
// step-7 in small: get-ship, list-crew built from get-ship's answer, a lookup) run by the real
// binary against the recording upstream, over REST, MCP HTTP (SDK client) and MCP stdio.
// Run: cd tests/integration && node --test orchestration.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { startUpstream, closedPort } from './upstream.mjs';
import { startProxy, repoRoot, sanitizerReport } from './capproxy.mjs';
import { request, hangUp } from './client.mjs';
import { connectHttp, connectStdio, callTool, closeClient, listAllTools, showResult, sleep, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = path.join(repoRoot, 'tests', 'data', 'orchestration');
const ARGS = ['-c', path.join(DATA, 'capproxy.yaml'), path.join(DATA, 'shipyard.yaml')];

const SHIP = {
  imo_number: 'IMO-9321483',
  vessel_name: 'Northern Star',
  flag_code: 'NO',
  gross_tonnage: 51000,
  dimensions: { length_overall: 229.5 },
  assignedCrew: ['CR-2', 'CR-3'],
};
const CREW = [
  { crewId: 'CR-1', fullName: 'Ada Lovelace', role: 'captain', salary: 1 },
  { crewId: 'CR-2', fullName: 'Grace Hopper', role: 'engineer', salary: 2 },
  { crewId: 'CR-3', fullName: 'Alan Turing', role: 'navigator', salary: 3 },
];

const MANIFEST = '<manifest><item><code>C-1</code><kg>120</kg></item><item><code>C-2</code><kg>80</kg></item></manifest>';

/** The registry: /ships/<imo>, /crew and the XML /manifests/<imo>; anything else 404. */
function registry(rec) {
  if (rec.path === `/ships/${SHIP.imo_number}`) return { status: 200, body: SHIP };
  if (rec.path === '/crew') return { status: 200, body: CREW };
  if (rec.path === `/manifests/${SHIP.imo_number}`) {
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: MANIFEST };
  }
  if (rec.path === '/manifests/IMO-BROKEN') {
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: '<manifest><item>' };
  }
  return { status: 404, body: { error: 'not found' } };
}

const EXPECTED = {
  imo: SHIP.imo_number,
  name: SHIP.vessel_name,
  crew: [
    { fullName: 'Grace Hopper', role: 'engineer' },
    { fullName: 'Alan Turing', role: 'navigator' },
  ],
};

describe('orchestration and mocks', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ARGS, env: { SHIP_BASE_URI: up.url } });
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

  describe('REST', () => {
    test('steps run in order, the second built from the first, the lookup and mappings shape the answer', T, async () => {
      const r = await request(px.restUrl, `/ships/${SHIP.imo_number}/crew`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, {
        ...EXPECTED,
        specs: { length: 229.5, tonnage: 51000 },
        captain: 'Ada Lovelace',
      });
      assert.equal(up.requests.length, 2);
      assert.equal(up.requests[0].path, `/ships/${SHIP.imo_number}`);
      assert.equal(up.requests[1].path, '/crew');
      assert.deepEqual(up.requests[1].query, { vessel: ['Northern Star'], flag: ['NO'] });
    });

    test('a step whose operation answers XML is read as JSON before the mappings', T, async () => {
      const r = await request(px.restUrl, `/ships/${SHIP.imo_number}/cargo`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, {
        name: SHIP.vessel_name,
        cargo: [{ code: 'C-1', kg: '120' }, { code: 'C-2', kg: '80' }],
      });
      assert.deepEqual(up.requests.map((q) => q.path), [`/ships/${SHIP.imo_number}`, `/manifests/${SHIP.imo_number}`]);
    });

    test('a step whose XML cannot be read: 502 naming the step and the format', T, async () => {
      up.handle((rec) => (rec.path.startsWith('/ships/')
        ? { status: 200, body: { ...SHIP, imo_number: 'IMO-BROKEN' } }
        : registry(rec)));
      const r = await request(px.restUrl, `/ships/${SHIP.imo_number}/cargo`);
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.step, 'manifest');
      assert.match(r.json.detail, /step 'manifest' \(shipyard-registry\.get-manifest\) failed: the upstream's XML could not be read/);
    });

    test('a failing step ends the call: 404 kept, the problem names the step; nothing more is sent', T, async () => {
      const r = await request(px.restUrl, '/ships/IMO-0000000/crew');
      assert.equal(r.status, 404, r.text);
      assert.match(r.headers['content-type'], /^application\/problem\+json/);
      assert.equal(r.json.step, 'get-ship');
      assert.equal(r.json.call, 'shipyard-registry.get-ship');
      assert.equal(r.json.upstream_status, 404);
      assert.match(r.json.detail, /step 'get-ship'.*404/);
      assert.equal(up.requests.length, 1);
    });

    test('a step whose upstream fails with 5xx: 502 naming the step', T, async () => {
      up.handle((rec) => (rec.path === '/crew' ? { status: 503, body: { error: 'down' } } : registry(rec)));
      const r = await request(px.restUrl, `/ships/${SHIP.imo_number}/crew`);
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.step, 'list-crew');
      assert.equal(r.json.upstream_status, 503);
    });

    test('an unknown input is refused before any step runs', T, async () => {
      const r = await request(px.restUrl, `/ships/${SHIP.imo_number}/crew?vesel=x`);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.parameter, 'vesel');
      assert.equal(up.requests.length, 0);
    });

    test('a client hanging up mid-chain: the pending step is cancelled and no further step is sent', T, async () => {
      up.handle((rec) => (rec.path.startsWith('/ships/') ? { hang: true } : registry(rec)));
      await hangUp(px.rest.port, `GET /ships/${SHIP.imo_number}/crew HTTP/1.1\r\nHost: x\r\n\r\n`, { afterMs: 300 });
      await up.waitFor((rs) => rs.length >= 1 && rs[0].aborted, 5000 * SCALE, 'the first step aborted');
      await sleep(300);
      assert.equal(up.requests.length, 1, 'no second step');
    });

    test('a mock REST operation answers without an upstream, typed as declared', T, async () => {
      const r = await request(px.restUrl, '/ships/IMO-1/summary');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { imo: 'IMO-1', name: 'Northern Star', crewSize: 12 });
      assert.equal(up.requests.length, 0);
    });

    test('a mock with nothing to say answers 204', T, async () => {
      const r = await request(px.restUrl, '/ping');
      assert.equal(r.status, 204, r.text);
      assert.equal(r.text, '');
    });
  });

  describe('MCP HTTP', () => {
    let c;
    before(async () => {
      c = await connectHttp(`${px.mcpUrl}/mcp`);
    });
    after(async () => closeClient(c));

    test('tools/list shows the orchestrated and mock tools', T, async () => {
      const tools = await listAllTools(c.client);
      assert.deepEqual(tools.map((t) => t.name).sort(), ['get-ship-mock', 'get-ship-with-crew']);
      // Their declared inputParameters are their input schemas, types and `required` included.
      for (const [name, arg] of [['get-ship-with-crew', 'imo'], ['get-ship-mock', 'imo_number']]) {
        const t = tools.find((x) => x.name === name);
        assert.equal(t.inputSchema.properties[arg]?.type, 'string', JSON.stringify(t.inputSchema));
        assert.deepEqual(t.inputSchema.required, [arg], JSON.stringify(t.inputSchema));
      }
    });

    test('the orchestrated tool answers with structuredContent', T, async () => {
      const r = await callTool(c.client, 'get-ship-with-crew', { imo: SHIP.imo_number });
      assert.ok(!r.isError, showResult(r));
      assert.deepEqual(r.structuredContent, EXPECTED);
      assert.deepEqual(JSON.parse(r.content[0].text), EXPECTED);
      assert.equal(up.requests.length, 2);
      assert.deepEqual(up.requests[1].query, { vessel: ['Northern Star'] });
    });

    test('a failing step is a tool error naming the step', T, async () => {
      const r = await callTool(c.client, 'get-ship-with-crew', { imo: 'IMO-0000000' });
      assert.equal(r.isError, true, showResult(r));
      assert.match(r.content[0].text, /step 'get-ship' \(shipyard-registry\.get-ship\) failed: upstream answered 404/);
      assert.equal(up.requests.length, 1);
    });

    test('the mock tool answers from its output values', T, async () => {
      const r = await callTool(c.client, 'get-ship-mock', { imo_number: 'IMO-7' });
      assert.ok(!r.isError, showResult(r));
      assert.deepEqual(r.structuredContent, { imo: 'IMO-7', name: 'Northern Star', status: 'active' });
      assert.equal(up.requests.length, 0);
    });
  });

  describe('refused connection', () => {
    test('a step that cannot reach its upstream: 502 naming the step', T, async () => {
      const port = await closedPort();
      const dead = await startProxy({ args: ARGS, env: { SHIP_BASE_URI: `http://127.0.0.1:${port}` } });
      try {
        const r = await request(dead.restUrl, `/ships/${SHIP.imo_number}/crew`);
        assert.equal(r.status, 502, r.text);
        assert.equal(r.json.step, 'get-ship');
        assert.match(r.json.detail, /could not be reached/);
      } finally {
        const s = await dead.stop();
        assert.equal(s.sanitizer ?? null, null, s.sanitizer);
      }
    });
  });

  describe('MCP stdio', () => {
    let c;
    before(async () => {
      c = await connectStdio({ args: ARGS, env: { SHIP_BASE_URI: up.url } });
    });
    after(async () => {
      await closeClient(c);
      await c?.exit;
      assert.equal(sanitizerReport(c?.lines || []), null);
    });

    test('the orchestrated tool over stdio', T, async () => {
      const r = await callTool(c.client, 'get-ship-with-crew', { imo: SHIP.imo_number });
      assert.ok(!r.isError, showResult(r));
      assert.deepEqual(r.structuredContent, EXPECTED);
      assert.equal(up.requests.length, 2);
    });

    test('a failing step over stdio', T, async () => {
      const r = await callTool(c.client, 'get-ship-with-crew', { imo: 'IMO-0000000' });
      assert.equal(r.isError, true, showResult(r));
      assert.match(r.content[0].text, /step 'get-ship'/);
    });

    test('the mock tool over stdio', T, async () => {
      const r = await callTool(c.client, 'get-ship-mock', { imo_number: 'IMO-8' });
      assert.deepEqual(r.structuredContent, { imo: 'IMO-8', name: 'Northern Star', status: 'active' });
    });
  });
});
