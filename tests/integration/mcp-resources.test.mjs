// MCP resources and prompts: tests/data/mcp-resources/library.yaml (static files, a directory,
// call-backed resources, a template, one built by steps, prompts inline and from a file) and
// plain.yaml (tools only) run by the real binary against the recording upstream, with both
// official SDK clients over Streamable HTTP and stdio, and raw JSON-RPC for the error cases.
// Run: cd tests/integration && node --test mcp-resources.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { connectHttp, connectStdio, closeClient, rpc, req, openSession, show, SDKS, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = path.join(repoRoot, 'tests', 'data', 'mcp-resources');
const ARGS = ['-c', path.join(DATA, 'capproxy.yaml'), path.join(DATA, 'library.yaml'), path.join(DATA, 'plain.yaml')];
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 0xff]);

/** The library API: /catalog, /books/<id>, /covers/<id>; 404 for books/missing, 500 for books/boom. */
function library(rec) {
  if (rec.path === '/catalog') return { status: 200, body: { books: ['b-1', 'b-2'], total: 2 } };
  if (rec.path === '/books/missing') return { status: 404, body: { error: 'no such book' } };
  if (rec.path === '/books/boom') return { status: 500, body: { error: 'boom' } };
  if (rec.path.startsWith('/books/')) return { status: 200, body: { id: decodeURIComponent(rec.path.slice(7)), title: 'Dune' } };
  if (rec.path.startsWith('/covers/')) return { status: 200, headers: { 'content-type': 'image/png' }, body: PNG };
  return { status: 404, body: { error: 'not found' } };
}

const STATIC = [
  { uri: 'docs://library/readme', mimeType: 'text/markdown', text: '# Library\n\nBooks are grouped by shelf.\n' },
  { uri: 'docs://library/guides/borrowing.txt', mimeType: 'text/plain', text: 'Borrow a book for three weeks.\n' },
  { uri: 'docs://library/guides/hours.json', mimeType: 'application/json', text: '{"opening": "09:00"}\n' },
];

/** The checks every client runs: lists, static and dynamic reads, templates, prompts.
 * upstream() gives the recording upstream (started in the suite's before hook). */
function clientSuite(connect, upstream) {
  let c;
  before(async () => {
    c = await connect();
  });
  after(async () => {
    await closeClient(c);
  });

  test('capabilities: resources and prompts are advertised', T, async () => {
    const caps = c.client.getServerCapabilities();
    assert.ok(caps.resources, JSON.stringify(caps));
    assert.ok(caps.prompts, JSON.stringify(caps));
    assert.ok(caps.tools);
  });

  test('listResources: the static file, each file of the directory (hidden ones left out), the fixed dynamic uri', T, async () => {
    const r = await c.client.listResources();
    const uris = r.resources.map((x) => x.uri);
    assert.deepEqual(uris, [
      'docs://library/readme',
      'docs://library/guides/borrowing.txt',
      'docs://library/guides/hours.json',
      'docs://library/guides/logo.png',
      'data://library/catalog',
    ]);
    const readme = r.resources[0];
    assert.equal(readme.name, 'readme');
    assert.equal(readme.title, 'Read me');
    assert.equal(readme.description, 'How the library is organised.');
    assert.equal(readme.mimeType, 'text/markdown');
    assert.equal(r.resources[3].mimeType, 'image/png');
    assert.equal(r.resources[4].mimeType, 'application/json');
  });

  test('listResourceTemplates: the {param} uris', T, async () => {
    const r = await c.client.listResourceTemplates();
    assert.deepEqual(
      r.resourceTemplates.map((t) => [t.uriTemplate, t.name]),
      [['books://{id}', 'book'], ['covers://{id}/image', 'cover'], ['shelves://{id}', 'shelf']],
    );
    assert.equal(r.resourceTemplates[1].mimeType, 'image/png');
  });

  test('readResource: static files come as text, read at load (no upstream request)', T, async () => {
    upstream().requests.length = 0;
    for (const s of STATIC) {
      const r = await c.client.readResource({ uri: s.uri });
      assert.deepEqual(r.contents, [s]);
    }
    assert.equal(upstream().requests.length, 0);
  });

  test('readResource: a binary file is a base64 blob', T, async () => {
    const r = await c.client.readResource({ uri: 'docs://library/guides/logo.png' });
    assert.equal(r.contents[0].mimeType, 'image/png');
    assert.equal(r.contents[0].text, undefined);
    assert.deepEqual(Buffer.from(r.contents[0].blob, 'base64'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]));
  });

  test('readResource: a call-backed resource calls the upstream and maps the answer', T, async () => {
    upstream().requests.length = 0;
    const r = await c.client.readResource({ uri: 'data://library/catalog' });
    assert.equal(upstream().requests.length, 1);
    assert.equal(upstream().requests[0].path, '/catalog');
    assert.deepEqual(r.contents, [{ uri: 'data://library/catalog', mimeType: 'application/json', text: '["b-1","b-2"]' }]);
  });

  test('readResource: a template fills the call from the uri (decoded, then encoded again upstream)', T, async () => {
    upstream().requests.length = 0;
    const r = await c.client.readResource({ uri: 'books://b%2042' });
    assert.equal(upstream().requests[0].path, '/books/b%2042');
    assert.equal(r.contents[0].uri, 'books://b%2042');
    assert.deepEqual(JSON.parse(r.contents[0].text), { id: 'b 42', title: 'Dune' });
  });

  test('readResource: a binary upstream answer is a blob with the declared mimeType', T, async () => {
    const r = await c.client.readResource({ uri: 'covers://7/image' });
    assert.equal(r.contents[0].mimeType, 'image/png');
    assert.deepEqual(Buffer.from(r.contents[0].blob, 'base64'), PNG);
  });

  test('readResource: a steps-backed template runs each step', T, async () => {
    upstream().requests.length = 0;
    const r = await c.client.readResource({ uri: 'shelves://b-1' });
    assert.deepEqual(upstream().requests.map((q) => q.path), ['/books/b-1', '/catalog']);
    assert.deepEqual(JSON.parse(r.contents[0].text), { title: 'Dune', count: 2 });
  });

  test('readResource: errors are JSON-RPC errors', T, async () => {
    await assert.rejects(c.client.readResource({ uri: 'nope://x' }), (e) => e.code === -32002 && /Resource not found: nope:\/\/x/.test(e.message));
    await assert.rejects(
      c.client.readResource({ uri: 'books://missing' }),
      (e) => e.code === -32002 && /upstream answered 404 Not Found/.test(e.message),
    );
    await assert.rejects(
      c.client.readResource({ uri: 'books://boom' }),
      (e) => e.code === -32603 && /Resource read failed: books:\/\/boom \(upstream answered 500/.test(e.message),
    );
  });

  test('listPrompts and getPrompt: arguments, roles, Mustache over the arguments', T, async () => {
    const l = await c.client.listPrompts();
    assert.deepEqual(l.prompts.map((p) => p.name), ['summarise-book', 'review']);
    assert.deepEqual(l.prompts[0].arguments, [
      { name: 'title', description: "The book's title.", required: true },
      { name: 'audience', description: 'Who the summary is for.', required: false },
    ]);
    assert.equal(l.prompts[0].title, 'Summarise a book');
    const g = await c.client.getPrompt({ name: 'summarise-book', arguments: { title: 'Dune {{audience}}', audience: 'children' } });
    assert.deepEqual(g.messages, [
      { role: 'user', content: { type: 'text', text: 'Summarise Dune {{audience}} for children.' } },
      { role: 'assistant', content: { type: 'text', text: 'Here is a summary of Dune {{audience}}:' } },
    ]);
    const f = await c.client.getPrompt({ name: 'review', arguments: { title: 'Dune' } });
    assert.deepEqual(f.messages, [{ role: 'user', content: { type: 'text', text: 'Write a short review of Dune.\n' } }]);
  });

  test('getPrompt: missing and unknown arguments are refused', T, async () => {
    await assert.rejects(c.client.getPrompt({ name: 'summarise-book', arguments: {} }), (e) => e.code === -32602 && /missing required argument 'title'/.test(e.message));
    await assert.rejects(
      c.client.getPrompt({ name: 'summarise-book', arguments: { titel: 'x' } }),
      (e) => e.code === -32602 && /has no argument 'titel' \(did you mean 'title'\?\)/.test(e.message),
    );
    await assert.rejects(c.client.getPrompt({ name: 'nope', arguments: {} }), (e) => e.code === -32602 && /Unknown prompt: nope/.test(e.message));
  });
}

describe('MCP resources and prompts', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    up.handle(library);
    px = await startProxy({ args: ARGS, env: { LIBRARY_BASE_URI: up.url } });
  });
  after(async () => {
    const r = await px?.stop?.();
    await up?.close();
    assert.equal(r?.sanitizer ?? null, null, r?.sanitizer);
  });
  beforeEach(() => {
    up.handle(library);
  });

  for (const sdk of SDKS) {
    describe(`HTTP /mcp/library-mcp, SDK ${sdk}`, () => clientSuite(() => connectHttp(`${px.mcpUrl}/mcp/library-mcp`, { sdk }), () => up));
    describe(`stdio, SDK ${sdk}`, () => clientSuite(() => connectStdio({ args: ARGS, env: { LIBRARY_BASE_URI: up.url }, sdk }), () => up));
  }

  describe('raw JSON-RPC', () => {
    test('an endpoint without resources or prompts does not advertise them and answers Method not found', T, async () => {
      const s = await openSession(px, { path: '/mcp/plain-mcp' });
      const caps = s.init.msg.result.capabilities;
      assert.deepEqual(Object.keys(caps), ['tools']);
      for (const method of ['resources/list', 'resources/read', 'prompts/list', 'prompts/get']) {
        const r = await rpc(px, req(method, {}), { path: '/mcp/plain-mcp', session: s.session });
        assert.equal(r.msg?.error?.code, -32601, show(r));
      }
    });

    test('/mcp serves every adapter: resources and prompts of library-mcp, tools of both', T, async () => {
      const s = await openSession(px);
      assert.ok(s.init.msg.result.capabilities.resources);
      const r = await rpc(px, req('resources/read', { uri: 'docs://library/readme' }), { session: s.session });
      assert.equal(r.msg.result.contents[0].text, STATIC[0].text, show(r));
    });

    test('bad params name the field', T, async () => {
      const s = await openSession(px, { path: '/mcp/library-mcp' });
      const o = { path: '/mcp/library-mcp', session: s.session };
      let r = await rpc(px, req('resources/read', {}), o);
      assert.equal(r.msg.error.code, -32602, show(r));
      assert.match(r.msg.error.message, /"uri"/);
      r = await rpc(px, req('prompts/get', { arguments: {} }), o);
      assert.equal(r.msg.error.code, -32602, show(r));
      assert.match(r.msg.error.message, /"name"/);
      r = await rpc(px, req('prompts/get', { name: 'summarise-book', arguments: { title: 42 } }), o);
      assert.equal(r.msg.error.code, -32602, show(r));
      assert.match(r.msg.error.message, /argument 'title' must be a string/);
      r = await rpc(px, req('prompts/get', { name: 'summarise-book', arguments: ['x'] }), o);
      assert.match(r.msg.error.message, /must be an object of strings/);
    });

    test('an unreachable upstream is a JSON-RPC error, not a hang', T, async () => {
      const s = await openSession(px, { path: '/mcp/library-mcp' });
      up.handle(() => ({ destroy: true }));
      const r = await rpc(px, req('resources/read', { uri: 'data://library/catalog' }), { path: '/mcp/library-mcp', session: s.session });
      assert.equal(r.msg.error.code, -32603, show(r));
      assert.match(r.msg.error.message, /Resource read failed: data:\/\/library\/catalog \(the upstream could not be reached or failed/);
    });
  });
});
