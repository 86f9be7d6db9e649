// Aggregates and `ref`: one aggregate function (a simple call) serves a REST operation and MCP
// tools (tests/data/aggregates/shipyard.yaml, in the style of the reference tutorial's step 9).
// Each path must send the same upstream request, answer with the function's output mapping, and
// tools/list must show the function's description, inputs and the hints its semantics derive.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot, startProxy, runCapproxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { startUpstream } from './upstream.mjs';
import { SCALE, connectHttp, closeClient, listAllTools, callTool, showResult } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const ARGS = ['-c', 'tests/data/aggregates/capproxy.yaml', 'tests/data/aggregates/shipyard.yaml'];
const SHIP = { imo_number: 'IMO9321483', vessel_name: 'Northern Star', vessel_type: 'tanker' };

describe('aggregates: one function behind a REST operation and MCP tools', () => {
  let up;
  let px;
  let c;

  before(async () => {
    up = await startUpstream();
    up.handle(() => ({ status: 200, body: SHIP }));
    px = await startProxy({ upstream: up, args: ARGS });
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });

  after(async () => {
    await closeClient(c);
    const r = px ? await px.stop() : null;
    await up?.close();
    if (r) assert.equal(r.sanitizer, null, r.sanitizer || '');
  });

  test('REST GET /ships/{imo} runs the function: its call, its with, its output mapping', T, async () => {
    const n = up.requests.length;
    const r = await request(px.restUrl, '/ships/IMO9321483');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { imo: 'IMO9321483', name: 'Northern Star' });
    const sent = up.requests.slice(n);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].method, 'GET');
    assert.equal(sent[0].path, '/ships/IMO9321483');
    assert.equal(sent[0].headers['x-fleet'], 'north');
  });

  test('tools/list: the inherited name and description, the function inputs, derived and overridden hints', T, async () => {
    const tools = await listAllTools(c.client);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), ['get-ship', 'get-ship-open']);
    const t = byName['get-ship'];
    assert.equal(t.description, "Retrieve a ship's details by IMO number");
    assert.deepEqual(t.inputSchema.required, ['imo']);
    assert.equal(t.inputSchema.properties.imo.type, 'string');
    assert.equal(t.inputSchema.properties.imo.description, 'IMO number of the ship');
    // safe: true -> readOnly true, destructive false; idempotent copied; openWorld not derived
    assert.deepEqual(t.annotations, { readOnlyHint: true, destructiveHint: false, idempotentHint: true });
    // the tool's own readOnly and openWorld win; destructive and idempotent are still derived
    assert.deepEqual(byName['get-ship-open'].annotations, {
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: true,
    });
  });

  test('tools/call sends the same upstream request as REST and answers the mapped output', T, async () => {
    for (const name of ['get-ship', 'get-ship-open']) {
      const n = up.requests.length;
      const res = await callTool(c.client, name, { imo: 'IMO9321483' });
      assert.ok(!res.isError, showResult(res));
      assert.deepEqual(JSON.parse(res.content[0].text), { imo: 'IMO9321483', name: 'Northern Star' });
      const sent = up.requests.slice(n);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].method, 'GET');
      assert.equal(sent[0].path, '/ships/IMO9321483');
      assert.equal(sent[0].headers['x-fleet'], 'north');
    }
  });

  test('tools/call without the function\'s required input is a tool error, nothing sent', T, async () => {
    const n = up.requests.length;
    const res = await callTool(c.client, 'get-ship', {});
    assert.equal(res.isError, true, showResult(res));
    assert.match(res.content[0].text, /imo/);
    assert.equal(up.requests.length, n);
  });
});

describe('aggregates: a ref that names no function fails validation', () => {
  test('capproxy validate names the ref and suggests the close one', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-aggr-'));
    try {
      const src = fs.readFileSync(path.join(repoRoot, 'tests/data/aggregates/shipyard.yaml'), 'utf8');
      const bad = src.replace('- ref: fleet.get-ship\n', '- ref: fleet.get-shp\n');
      assert.notEqual(bad, src);
      const f = path.join(dir, 'bad.yaml');
      fs.writeFileSync(f, bad);
      const r = await runCapproxy(['validate', '-c', 'tests/data/aggregates/capproxy.yaml', f], { env: { CAL_COM_BASE_URI: 'http://127.0.0.1:1' } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ref 'fleet\.get-shp' names no aggregate function: aggregate 'fleet' \(.*\) has no function 'get-shp' \(did you mean 'fleet\.get-ship'\?\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Needs output parameters with a static or template `value` (mock mode), which the output
// shaping branch (i10-output) loads; the loader refuses them until then. Unskip after that merge.
describe('aggregates: a mock function behind a REST operation and an MCP tool', () => {
  let up;
  let px;
  let c;

  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ['-c', 'tests/data/aggregates/capproxy.yaml', 'tests/data/aggregates/greeting.yaml'] });
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });

  after(async () => {
    await closeClient(c);
    const r = px ? await px.stop() : null;
    await up?.close();
    if (r) assert.equal(r.sanitizer, null, r.sanitizer || '');
  });

  test('REST and MCP build the same answer from the function\'s values; nothing goes upstream', T, async () => {
    const r = await request(px.restUrl, '/hello?name=Ada');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { message: 'Hello, Ada!', source: 'aggregate-mock' });
    const tools = await listAllTools(c.client);
    assert.deepEqual(tools.map((t) => t.name), ['hello']);
    assert.equal(tools[0].description, 'Builds a greeting payload from input parameters.');
    const res = await callTool(c.client, 'hello', { name: 'Ada' });
    assert.ok(!res.isError, showResult(res));
    assert.deepEqual(JSON.parse(res.content[0].text), { message: 'Hello, Ada!', source: 'aggregate-mock' });
    assert.equal(up.requests.length, 0);
  });
});
