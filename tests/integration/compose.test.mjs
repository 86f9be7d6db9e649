// Composition (issue 10, items 1 and 2): a capability built from shared-adapter files through
// `consumes: [{import, location, as}]`, with credentials from bind files in YAML and JSON, both
// relative to the document (tests/data/compose/). The real binary serves it over REST and MCP
// against the recording upstream, which must receive the bound credentials; the configuration
// points the imported APIs (by their name in the importing document) at the upstream.
// Run: cd tests/integration && node --test compose.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectHttp, closeClient, callTool, showResult, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = 'tests/data/compose';
const CONFIG = `${DATA}/config/capproxy.yaml`;
const REGISTRY_TOKEN = 'reg-token-7f3a9c21e5d84b60';
const DOCK_KEY = 'dock-key-19b4e7c2a6d05f83';

function assertNoSecret(where, text) {
  for (const s of [REGISTRY_TOKEN, DOCK_KEY]) assert.ok(!String(text).includes(s), `a bound secret appears in ${where}`);
}

function last(up) {
  assert.ok(up.requests.length > 0, 'the upstream got a request');
  return up.requests[up.requests.length - 1];
}

describe('a capability composed from shared files and bind files', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ args: ['-c', CONFIG, `${DATA}/fleet.yaml`], env: { COMPOSE_UPSTREAM: up.url } });
  });
  after(async () => {
    const r = await px?.stop();
    await up?.close();
    if (r) {
      assert.equal(r.sanitizer, null);
      assertNoSecret('the log', r.lines.join('\n'));
    }
  });

  test('REST: an import without `as` calls its API with the YAML-bound bearer and header', T, async () => {
    up.reset();
    const r = await request(px.restUrl, '/ships?status=active');
    assert.equal(r.status, 200, r.text);
    const got = last(up);
    assert.equal(got.method, 'GET');
    assert.equal(got.url, '/ships?status=active');
    assert.equal(got.headers.authorization, `Bearer ${REGISTRY_TOKEN}`);
    // A number in the YAML bind file becomes its text.
    assert.equal(got.headers['registry-version'], '2');
    assertNoSecret('the response', r.text + JSON.stringify(r.headers));

    const one = await request(px.restUrl, '/ships/IMO9321483');
    assert.equal(one.status, 200, one.text);
    assert.equal(last(up).path, '/ships/IMO9321483');
  });

  test('REST: an import under an alias uses the JSON-bound key; configuration names the alias', T, async () => {
    up.reset();
    // The shared file says http://127.0.0.1:1; the configuration's `dock` entry wins.
    const r = await request(px.restUrl, '/vessels');
    assert.equal(r.status, 200, r.text);
    const got = last(up);
    assert.equal(got.path, '/vessels');
    assert.equal(got.headers['x-dock-key'], DOCK_KEY);
    assert.equal(got.headers.authorization, undefined, 'the registry credential is not sent to the dockyard');
  });

  test('MCP: tools calling both imported APIs', T, async () => {
    up.reset();
    const c = await connectHttp(`${px.mcpUrl}/mcp`);
    try {
      const tools = (await c.client.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(tools, ['list-ships', 'list-vessels']);
      let res = await callTool(c.client, 'list-ships', { status: 'docked' });
      assert.ok(!res.isError, showResult(res));
      let got = last(up);
      assert.equal(got.url, '/ships?status=docked');
      assert.equal(got.headers.authorization, `Bearer ${REGISTRY_TOKEN}`);
      res = await callTool(c.client, 'list-vessels', {});
      assert.ok(!res.isError, showResult(res));
      got = last(up);
      assert.equal(got.path, '/vessels');
      assert.equal(got.headers['x-dock-key'], DOCK_KEY);
      assertNoSecret('the tool results', JSON.stringify(res));
    } finally {
      await closeClient(c);
    }
  });
});

describe('a directory with two capabilities importing one entry and a shared file', () => {
  test('loads, shares the consumed API and serves both', T, async () => {
    const up = await startUpstream();
    const px = await startProxy({ args: ['-c', CONFIG, `${DATA}/`], env: { COMPOSE_UPSTREAM: up.url } });
    try {
      const c = await connectHttp(`${px.mcpUrl}/mcp`);
      try {
        const tools = (await c.client.listTools()).tools.map((t) => t.name).sort();
        assert.deepEqual(tools, ['get-ship', 'list-ships', 'list-vessels']);
        const res = await callTool(c.client, 'get-ship', { imo: 'IMO1' });
        assert.ok(!res.isError, showResult(res));
        assert.equal(last(up).path, '/ships/IMO1');
        assert.equal(last(up).headers.authorization, `Bearer ${REGISTRY_TOKEN}`);
      } finally {
        await closeClient(c);
      }
    } finally {
      const r = await px.stop();
      await up.close();
      assert.equal(r.sanitizer, null);
    }
  });
});

describe('relative to the document, not to the working directory', () => {
  test('validate from another directory finds the imports and bind files', T, async () => {
    const r = await runCapproxy(['validate', '-c', path.join(repoRoot, CONFIG), path.join(repoRoot, DATA, 'fleet.yaml')], {
      cwd: os.tmpdir(),
      env: { COMPOSE_UPSTREAM: 'http://127.0.0.1:9' },
    });
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('refusals at start-up', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-compose-'));
    fs.mkdirSync(path.join(dir, 'shared'));
    fs.copyFileSync(path.join(repoRoot, DATA, 'shared/registry.yaml'), path.join(dir, 'shared/registry.yaml'));
    fs.writeFileSync(path.join(dir, 'secrets.yaml'), 'token: "value-never-shown-8c1d"\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const doc = (binds, consumes) => `naftiko: 1.0.0-alpha2
binds:
${binds}
capability:
  consumes:
${consumes}
  exposes:
    - type: mcp
      namespace: t
      tools:
        - name: t
          description: d
          call: registry.list-ships
`;

  test('a key the bind file lacks, naming the key, the file and the bind', T, async () => {
    const file = path.join(dir, 'missing-key.yaml');
    fs.writeFileSync(
      file,
      doc(
        `  - namespace: s
    location: file:///./secrets.yaml
    keys:
      REGISTRY_TOKEN: token
      REGISTRY_VERSION: version`,
        `    - import: registry
      location: ./shared/registry.yaml`,
      ),
    );
    const r = await runCapproxy(['validate', '-c', path.join(repoRoot, CONFIG), file], { env: { COMPOSE_UPSTREAM: 'http://127.0.0.1:9' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:7:7: error: bind variable 'REGISTRY_VERSION': key 'version' is not in binds file '${dir}/secrets.yaml'`));
    assert.ok(!r.stderr.includes('value-never-shown'), r.stderr);
  });

  test('an import naming a missing file or entry, and another scheme', T, async () => {
    const file = path.join(dir, 'bad-imports.yaml');
    fs.writeFileSync(
      file,
      doc(
        `  - namespace: v
    location: vault://secret/app
    keys: {X: x}`,
        `    - import: registry
      location: ./shared/nope.yaml
    - import: registri
      location: ./shared/registry.yaml
      as: other`,
      ),
    );
    const r = await runCapproxy(['validate', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${file}:4:15: error: binds 'location': scheme 'vault:' is not supported`));
    assert.match(r.stderr, new RegExp(`${file}:9:17: error: cannot read imported file '${dir}/shared/nope.yaml': No such file or directory`));
    assert.match(r.stderr, new RegExp(`${file}:11:17: error: imported file '${dir}/shared/registry.yaml' has no consumes namespace 'registri' \\(did you mean 'registry'\\?\\)`));
  });
});
