// `capproxy validate` and typos (issue 8, section 3): an unknown key in a capability document or
// in the configuration file is an error at its own file:line:col, with "did you mean"; every
// error of a file is printed, one per line, and the exit status is 1. Keys starting with `x-` and
// the `path:` extension are accepted, and everything shipped (capabilities/, config/) and every
// document under tests/data/**/good still validates.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { runCapproxy, repoRoot } from './capproxy.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 20_000 * SCALE };

// One document with four typos, in four different objects.
const TYPOS = `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: up
    baseUri: http://127.0.0.1:1
    resources:
    - name: items
      path: /items/{id}
      opertions:
      - name: get-item
        method: GET
  - type: http
    namespace: up2
    baseUri: http://127.0.0.1:1
    resources:
    - path: /things
      operations:
      - name: list-things
        method: GET
        inputParameters:
        - name: limit
          in: query
          requird: true
  exposes:
  - type: rest
    namespace: up-rest
    port: 8080
    resources:
    - path: /v1/items/{id}
      operations:
      - method: GET
        call: up.get-item
        width:
          id: rest.id
  - type: mcp
    namespace: up-mcp
    port: 9090
    path: /up
    tools:
    - name: get-item
      description: Get an item.
      call: up.get-item
      hints:
        readonly: true
`;

// Valid alpha2 and capproxy keys only, plus x- extensions everywhere and `path:` on MCP.
const EXTENSIONS = `naftiko: 1.0.0-alpha2
x-anything: {generated: true}
info:
  label: ext
  description: ext
  tags: [a]
capability:
  x-anything: 1
  consumes:
  - type: http
    namespace: ext
    baseUri: http://127.0.0.1:1
    x-anything: 1
    resources:
    - name: items
      label: Items
      path: /items
      x-anything: 1
      operations:
      - name: list
        method: GET
        outputSchema: list.json
        x-anything: 1
  exposes:
  - type: mcp
    namespace: ext-mcp
    port: 9090
    path: /ext
    x-anything: 1
    tools:
    - name: list
      description: List.
      call: ext.list
      x-anything: 1
      hints: {readOnly: true, x-anything: 1}
`;

function errorLines(stderr) {
  return stderr.split('\n').filter((l) => / error: /.test(l));
}

describe('capproxy validate: typos', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-typos-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a document with four typos: all four, one per line, at their own positions; exit 1', T, async () => {
    const f = path.join(dir, 'typos.yaml');
    fs.writeFileSync(f, TYPOS);
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.deepEqual(errorLines(r.stderr), [
      `${f}:10:7: error: unknown key 'opertions' in consumed resource (did you mean 'operations'?)`,
      `${f}:24:11: error: unknown key 'requird' in consumed parameter (did you mean 'required'?)`,
      `${f}:34:9: error: unknown key 'width' in REST operation (did you mean 'with'?)`,
      `${f}:45:9: error: unknown key 'readonly' in hints (did you mean 'readOnly'?)`,
    ], r.stderr);
    assert.match(r.stderr, /^capproxy: 4 errors$/m);
  });

  test('x- keys and the MCP path: extension are accepted', T, async () => {
    const f = path.join(dir, 'extensions.yaml');
    fs.writeFileSync(f, EXTENSIONS);
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  });

  test('a saved web page: one error at 1:1 with a hint', T, async () => {
    const f = path.join(dir, 'page.yaml');
    fs.writeFileSync(f, '<!DOCTYPE html>\n<html><head><title>cal-com.yaml</title></head><body>naftiko: 1.0.0-alpha2</body></html>\n');
    const r = await runCapproxy(['validate', f]);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.deepEqual(errorLines(r.stderr), [
      `${f}:1:1: error: this looks like an HTML page, not a YAML capability document: did you save a web page instead of the raw file?`,
    ]);
  });

  test('configuration typos: every one, with did you mean; exit 1', T, async () => {
    const c = path.join(dir, 'typos-config.yaml');
    fs.writeFileSync(c, 'limits:\n  maxBodySise: 1k\nlog:\n  levle: debug\nx-team: gateway\n');
    const r = await runCapproxy(['validate', '-c', c, 'capabilities/']);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.deepEqual(errorLines(r.stderr), [
      `${c}:2:3: error: unknown key 'maxBodySise' in limits (did you mean 'maxBodySize'?)`,
      `${c}:4:3: error: unknown key 'levle' in log (did you mean 'level'?)`,
    ], r.stderr);
  });

  test('a configuration typo does not hide the documents\' typos: one run reports both', T, async () => {
    const c = path.join(dir, 'typos-config-and-doc.yaml');
    fs.writeFileSync(c, 'rest:\n  lisen: ":0"\n');
    const d = path.join(dir, 'typos-doc-with-config.yaml');
    fs.writeFileSync(d, fs.readFileSync(path.join(repoRoot, 'capabilities/cal-com-managed-users.yaml'), 'utf8')
      .replace('naftiko: 1.0.0-alpha2\n', 'naftiko: 1.0.0-alpha2\nx-ok: 1\ninfoo: {}\n'));
    const r = await runCapproxy(['validate', '-c', c, d]);
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    const lines = errorLines(r.stderr);
    assert.ok(lines.includes(`${c}:2:3: error: unknown key 'lisen' in rest (did you mean 'listen'?)`), r.stderr);
    assert.ok(lines.some((l) => l.startsWith(`${d}:3:1: error: unknown key 'infoo'`)), r.stderr);
  });

  test('the shipped configuration and capabilities validate', T, async () => {
    const r = await runCapproxy(['validate', '-c', 'config/capproxy.yaml', 'capabilities/']);
    assert.equal(r.sanitizer, null, r.sanitizer);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  });

  test('every document under tests/data/**/good has no unknown key', T, async () => {
    const files = [];
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(e.name) && path.basename(path.dirname(p)) === 'good') files.push(p);
      }
    };
    walk(path.join(repoRoot, 'tests/data'));
    assert.ok(files.length >= 3, `found ${files.length} good documents`);
    for (const f of files) {
      // Some need secrets this test does not have (binds); a key error would show here first.
      const r = await runCapproxy(['validate', f]);
      assert.equal(r.sanitizer, null, r.sanitizer);
      assert.doesNotMatch(r.stderr, /unknown key|looks like an HTML page/, `${f}:\n${r.stderr}`);
      assert.ok(r.code === 0 || /features\.yaml$/.test(f), `${f}: exit ${r.code}; stderr:\n${r.stderr}`);
    }
  });
});
