// Response formats: the upstream answers XML, CSV, TSV, YAML, HTML and Markdown (with their own
// Content-Type); capproxy converts each to JSON before output mapping and answers JSON over
// REST and MCP. A body that is not in the declared format is a 502 problem (REST) or an error
// result (MCP), never passed on raw.
// Run: cd tests/integration && node --test formats.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectHttp, closeClient, callTool } from './mcp-helpers.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 20_000 * SCALE };

const BODIES = {
  '/users.xml': ['application/xml', '<?xml version="1.0"?>\n<root>\n  <user><id>1</id><name>Alice Smith</name></user>\n  <user><id>2</id><name>Bob Johnson</name></user>\n</root>\n'],
  '/users.csv': ['text/csv', 'id,name,email\n1,"Smith, Alice",alice@example.com\n2,Bob,bob@example.com\n'],
  '/users.tsv': ['text/tab-separated-values', 'id\tname\n1\tAlice\n'],
  '/config.yaml': ['application/yaml', 'server:\n  port: 8080\n  host: example\n'],
  '/products.html': ['text/html; charset=utf-8', '<html><body><table class="ignored"><tr><th>Name</th></tr><tr><td>No</td></tr></table><table class="products"><thead><tr><th>Name</th><th>Price</th></tr></thead><tbody><tr><td>Widget</td><td>$42</td></tr><tr><td>Gadget</td><td>$99</td></tr></tbody></table></body></html>'],
  '/readme.md': ['text/markdown', '---\ntitle: Readme\n---\n# Intro\nHello.\n\n## API Reference\nCalls *and* answers.\n\n| Feature | Status |\n|---|---|\n| Search | GA |\n'],
};

let up;
let px;
const broken = new Set(); // paths answered with a body that is not in their format

before(async () => {
  up = await startUpstream();
  up.handle((req) => {
    if (broken.has(req.path)) return { status: 200, headers: { 'content-type': 'text/plain' }, body: '<oops' };
    const b = BODIES[req.path];
    if (!b) return { status: 404, body: { error: 'no such path' } };
    return { status: 200, headers: { 'content-type': b[0] }, body: b[1] };
  });
  px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', 'tests/data/formats/'] });
});

after(async () => {
  if (px) await px.stop();
  if (up) await up.close();
});

async function getJson(path) {
  const r = await request(px.restUrl, path);
  assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
  assert.match(r.headers['content-type'] || '', /^application\/json/, `${path}: content type`);
  return r.json;
}

describe('REST', () => {
  test('XML: repeated elements are an array, mapped field by field', T, async () => {
    assert.deepEqual(await getJson('/xml/users'), [
      { id: '1', name: 'Alice Smith' },
      { id: '2', name: 'Bob Johnson' },
    ]);
  });
  test('CSV without outputParameters: the converted JSON, not the CSV', T, async () => {
    assert.deepEqual(await getJson('/csv/users'), [
      { id: '1', name: 'Smith, Alice', email: 'alice@example.com' },
      { id: '2', name: 'Bob', email: 'bob@example.com' },
    ]);
  });
  test('TSV and YAML are mapped (YAML keeps its types)', T, async () => {
    assert.deepEqual(await getJson('/tsv/names'), { first: 'Alice' });
    assert.deepEqual(await getJson('/yaml/config'), { port: 8080 });
  });
  test('HTML: the table the outputSchema selector picks', T, async () => {
    assert.deepEqual(await getJson('/html/products'), [
      { name: 'Widget', price: '$42' },
      { name: 'Gadget', price: '$99' },
    ]);
  });
  test('Markdown: front matter, tables and the sections outputSchema keeps', T, async () => {
    assert.deepEqual(await getJson('/markdown/sections'), {
      frontMatter: { title: 'Readme' },
      tables: [[{ Feature: 'Search', Status: 'GA' }]],
      sections: [{ heading: 'API Reference', level: 2, content: 'Calls and answers.' }],
    });
  });
  test('a body that is not the declared XML: 502 problem saying why', T, async () => {
    broken.add('/users.xml');
    try {
      const r = await request(px.restUrl, '/xml/users');
      assert.equal(r.status, 502, r.text);
      assert.match(r.headers['content-type'] || '', /^application\/problem\+json/);
      assert.match(r.json.detail || r.json.title, /the upstream's XML could not be read: /, r.text);
    } finally {
      broken.delete('/users.xml');
    }
  });
  test('a CSV body with an unclosed quote: 502 problem saying why', T, async () => {
    const good = BODIES['/users.csv'][1];
    BODIES['/users.csv'][1] = 'a\n"open';
    try {
      const r = await request(px.restUrl, '/csv/users');
      assert.equal(r.status, 502, r.text);
      assert.match(r.text, /the upstream's CSV could not be read: .*unclosed quote/);
    } finally {
      BODIES['/users.csv'][1] = good;
    }
  });
  test('an upstream error status is passed on as it is, not converted', T, async () => {
    BODIES['/config.yaml'] = undefined;
    try {
      const r = await request(px.restUrl, '/yaml/config');
      assert.equal(r.status, 404, r.text);
      assert.deepEqual(r.json, { error: 'no such path' });
    } finally {
      BODIES['/config.yaml'] = ['application/yaml', 'server:\n  port: 8080\n  host: example\n'];
    }
  });
});

describe('MCP', () => {
  let c;
  before(async () => {
    c = await connectHttp(`${px.mcpUrl}/mcp`);
  });
  after(async () => {
    if (c) await closeClient(c);
  });
  test('XML tool: structured content from the converted document', T, async () => {
    const res = await callTool(c.client, 'xml-users', {});
    assert.ok(!res.isError, JSON.stringify(res));
    assert.deepEqual(res.structuredContent, {
      users: [
        { id: '1', name: 'Alice Smith' },
        { id: '2', name: 'Bob Johnson' },
      ],
    });
    assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
  });
  test('CSV tool without outputParameters: JSON text', T, async () => {
    const res = await callTool(c.client, 'csv-users', {});
    assert.ok(!res.isError, JSON.stringify(res));
    assert.equal(JSON.parse(res.content[0].text)[0].name, 'Smith, Alice');
  });
  test('Markdown tool: the table rows', T, async () => {
    const res = await callTool(c.client, 'markdown-features', {});
    assert.deepEqual(res.structuredContent, { features: [{ Feature: 'Search', Status: 'GA' }] });
  });
  test('a body that is not the declared XML: an error result saying why', T, async () => {
    broken.add('/users.xml');
    try {
      const res = await callTool(c.client, 'xml-users', {});
      assert.equal(res.isError, true, JSON.stringify(res));
      assert.match(res.content[0].text, /^the upstream's XML could not be read: /);
      assert.equal(res._meta.upstreamStatus, 200);
    } finally {
      broken.delete('/users.xml');
    }
  });
});
