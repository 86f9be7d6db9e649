// Request bodies: every body type of the alpha2 format (a raw template, json, text, xml, sparql,
// formUrlEncoded, multipartForm) reaches the recording upstream with its Content-Type and the
// exact bytes, each value escaped for its format, from a REST call and from an MCP tool call.
// Document: tests/data/bodies/bodies.yaml. Run: cd tests/integration && node --test bodies.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { SCALE, connectHttp, closeClient, callTool, showResult } from './mcp-helpers.mjs';

const T = { timeout: 20_000 * SCALE };
const ARGS = ['-c', 'config/capproxy.yaml', 'tests/data/bodies/bodies.yaml'];
const HOSTILE = 'a&b=c </note><evil x="1">\'; DROP "x" \\ é\n';

// Each case: the call's inputs, then what the upstream must receive.
const CASES = [
  {
    kind: 'raw',
    args: { crewIds: ['C-1', 'C-3'], note: 'hi' },
    method: 'POST',
    type: 'application/json',
    body: '{"crewIds": ["C-1","C-3"], "note": "hi"}\n',
  },
  {
    kind: 'raw', // not JSON once rendered: sent as text, not mislabelled
    args: { crewIds: [1], note: 'say "x"' },
    method: 'POST',
    type: 'text/plain; charset=utf-8',
    body: '{"crewIds": [1], "note": "say "x""}\n',
  },
  {
    kind: 'json',
    args: { count: 5, note: HOSTILE, crewIds: ['a', 'b'] },
    method: 'POST',
    type: 'application/json',
    body: JSON.stringify({ count: 5, label: `n-${HOSTILE}`, crewIds: ['a', 'b'] }),
  },
  {
    kind: 'text',
    args: { note: HOSTILE },
    method: 'POST',
    type: 'text/plain; charset=utf-8',
    body: `note: ${HOSTILE}`,
  },
  {
    kind: 'xml',
    args: { note: HOSTILE },
    method: 'PUT',
    type: 'application/xml',
    body:
      '<order><note>a&amp;b=c &lt;/note&gt;&lt;evil x=&quot;1&quot;&gt;&apos;; DROP &quot;x&quot; \\ é\n' +
      '</note></order>',
  },
  {
    kind: 'sparql',
    args: { note: HOSTILE },
    method: 'POST',
    type: 'application/sparql-query',
    body: 'SELECT ?s WHERE { ?s ?p "a&b=c </note><evil x=\\"1\\">\\\'; DROP \\"x\\" \\\\ é\\n" }',
  },
  {
    kind: 'form',
    args: { note: HOSTILE, scope: 'read write' },
    method: 'POST',
    type: 'application/x-www-form-urlencoded',
    form: { grant_type: 'client_credentials', note: HOSTILE, scope: 'read write' },
  },
  {
    kind: 'form', // an optional value not sent: its field is left out
    args: { note: 'n' },
    method: 'POST',
    type: 'application/x-www-form-urlencoded',
    body: 'grant_type=client_credentials&note=n',
  },
  {
    kind: 'multi',
    args: { note: HOSTILE, content: 'a,b\r\n1,2\r\n' },
    method: 'POST',
    multipart: [
      { name: 'note', value: HOSTILE },
      { name: 'upload', filename: 'report.csv', type: 'text/csv', value: 'a,b\r\n1,2\r\n' },
    ],
  },
];

// Check the upstream's record against a case.
async function checkMultipart(rec, c, what) {
  const ct = rec.headers['content-type'];
  assert.match(ct, /^multipart\/form-data; boundary=[!-~]+$/, `${what}: content-type`);
  // Parse it with the platform's own multipart reader: the bytes must be valid form-data.
  const form = await new Response(rec.body, { headers: { 'content-type': ct } }).formData();
  const got = [];
  for (const [name, v] of form.entries()) {
    if (typeof v === 'string') got.push({ name, value: v });
    else got.push({ name, filename: v.name, type: v.type, value: await v.text() });
  }
  assert.deepEqual(got, c.multipart, `${what}: parts`);
}

async function check(rec, c, what) {
  assert.equal(rec.method, c.method, `${what}: method`);
  assert.equal(rec.path, `/sink/${c.kind}`, `${what}: path`);
  if (c.multipart) return checkMultipart(rec, c, what);
  assert.equal(rec.headers['content-type'], c.type, `${what}: content-type`);
  if (c.form) {
    assert.deepEqual(Object.fromEntries(new URLSearchParams(rec.bodyText)), c.form, `${what}: form fields`);
    assert.doesNotMatch(rec.bodyText, /[ "<>\n]/, `${what}: every reserved byte encoded`);
  } else {
    assert.equal(rec.bodyText, c.body, `${what}: body bytes`);
  }
  assert.equal(Number(rec.headers['content-length']), rec.body.length, `${what}: length`);
}

describe('request bodies', () => {
  let up;
  let px;
  let mcp;

  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ARGS });
    mcp = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    await closeClient(mcp);
    if (px) await px.stop();
    if (up) await up.close();
  });
  beforeEach(() => up.reset());

  CASES.forEach((c, i) => {
    test(`REST ${c.kind} #${i}`, T, async () => {
      const r = await request(px.restUrl, `/bodies/${c.kind}`, { method: 'POST', body: c.args });
      assert.equal(r.status, 200, `REST ${c.kind}: ${r.text}`);
      await up.waitForRequests(1);
      assert.equal(up.requests.length, 1);
      await check(up.requests[0], c, `REST ${c.kind}`);
    });
    test(`MCP ${c.kind} #${i}`, T, async () => {
      const res = await callTool(mcp.client, c.kind, c.args);
      assert.notEqual(res.isError, true, `MCP ${c.kind}: ${showResult(res)}`);
      await up.waitForRequests(1);
      assert.equal(up.requests.length, 1);
      await check(up.requests[0], c, `MCP ${c.kind}`);
    });
  });

  test('a control character XML cannot carry is refused before anything is sent', T, async () => {
    const r = await request(px.restUrl, '/bodies/xml', { method: 'POST', body: { note: 'a\u0001b' } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /note/);
    assert.match(r.text, /control character that an XML body cannot carry/);
    const res = await callTool(mcp.client, 'xml', { note: 'a\u0001b' });
    assert.equal(res.isError, true, showResult(res));
    assert.equal(up.requests.length, 0, 'nothing reaches the upstream');
  });

  test('an input no body template reads is refused with the closest name', T, async () => {
    const r = await request(px.restUrl, '/bodies/text', { method: 'POST', body: { nte: 'x' } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /did you mean 'note'/);
    assert.equal(up.requests.length, 0);
  });
});
