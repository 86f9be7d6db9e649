// Format QA (issue 10 review): documents written as users of the alpha2 format write them
// (tests/data/format-qa/), run by the real binary against the recording upstream over REST and
// MCP, for the cases the review found answered wrong.
// Run: cd tests/integration && node --test format-qa.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectHttp, callTool, closeClient, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = path.join(repoRoot, 'tests', 'data', 'format-qa');
const ARGS = ['-c', path.join(DATA, 'capproxy.yaml'), path.join(DATA, 'qa.yaml')];

/* Two JSON values in one answer: the first is not "the answer" (a broken upstream, or one that
 * streams JSON lines); mapping must not quietly read the first and drop the rest. */
const TWO_VALUES = '{"name":"Northern Star"} {"name":"Other"}';

describe('format QA', () => {
  let up, px, mcp;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ARGS, env: { QA_BASE_URI: up.url } });
    mcp = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    await closeClient(mcp);
    const r = await px?.stop?.();
    await up?.close();
    assert.equal(r?.sanitizer ?? null, null, r?.sanitizer);
  });
  beforeEach(() => {
    up.requests.length = 0;
    up.handle((rec) => rec.path === '/crew' ? {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '[{"id":1,"name":"Ada"},{"id":2,"name":"Grace"},{"id":12345678901234567890,"name":"Big"}]',
    } : ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: rec.path === '/ships/TWO' ? TWO_VALUES : '{"name":"Northern Star"}',
    }));
  });

  describe('a JSON answer with bytes after its value is not mapped from its first value', () => {
    test('REST call: the answer passes through as received', T, async () => {
      const ok = await request(px.restUrl, '/ships/ONE');
      assert.deepEqual(ok.json, { name: 'Northern Star' });
      const r = await request(px.restUrl, '/ships/TWO');
      assert.equal(r.status, 200);
      assert.equal(r.text, TWO_VALUES);
    });
    test('MCP call: no structuredContent built from half of it; the tool declares its outputs, so a tool error keeping the text', T, async () => {
      const res = await callTool(mcp.client, 'get-ship', { imo: 'TWO' });
      assert.equal(res.structuredContent, undefined);
      assert.equal(res.isError, true);
      assert.match(res.content[0].text, /does not match the tool's declared outputs/);
      assert.equal(res.content[1].text, TWO_VALUES);
    });
    test('a step: the answer is not JSON, so it is a string and a mapping into it is null', T, async () => {
      const ok = await request(px.restUrl, '/ships/ONE/steps');
      assert.deepEqual(ok.json, { name: 'Northern Star' });
      const r = await request(px.restUrl, '/ships/TWO/steps');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { name: null });
    });
  });

  test('step paths with an index or wildcard read the step (JSONPath, as the engine)', T, async () => {
    const r = await request(px.restUrl, '/crew/first');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '{"first":"Ada","last":{"id":12345678901234567890},"names":["Ada","Grace","Big"],' +
      '"again":"Ada","dotted":"Grace"}');
  });

  describe('a mock object value: an input fills its string and cannot change its structure', () => {
    test('REST', T, async () => {
      const ok = await request(px.restUrl, '/labels?q=Ann');
      assert.deepEqual(ok.json, { label: { text: 'Ann' } });
      const q = 'x"} junk';
      const r = await request(px.restUrl, `/labels?q=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { label: { text: q } });
      const inj = 'x","admin":true,"y":"';
      const r2 = await request(px.restUrl, `/labels?q=${encodeURIComponent(inj)}`);
      assert.deepEqual(r2.json, { label: { text: inj } });
    });
    test('MCP', T, async () => {
      const q = 'x"} junk';
      const res = await callTool(mcp.client, 'label', { q });
      assert.deepEqual(res.structuredContent, { label: { text: q } });
    });
  });
});
