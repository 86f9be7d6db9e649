// The skill and control adapters (issue 11 items 2 and 3): the skill catalog's shapes, a `from`
// tool and an `instruction`, its authentication; the control port's endpoints on and off,
// reload by POST (and GET refused), validate, logs, metrics and its authentication.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot, startProxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { freePort } from './upstream.mjs';

const SKILL_DIR = path.join(repoRoot, 'tests/data/adapters/skills/guide');

function doc({ ports, description = 'Fleet management' }) {
  return `naftiko: 1.0.0-alpha2
info:
  label: Adapters test
binds:
  - namespace: env
    keys:
      SKILL_TOKEN: CPX_SKILL_TOKEN
      CONTROL_TOKEN: CPX_CONTROL_TOKEN
capability:
  consumes:
    - type: http
      namespace: api
      baseUri: http://127.0.0.1:1
      resources:
        - path: /ships
          name: ships
          operations:
            - name: list
              method: GET
  exposes:
    - type: rest
      namespace: gw
      port: ${ports.rest}
      resources:
        - path: /ships
          operations:
            - name: list-ships
              method: GET
              call: api.list
    - type: mcp
      namespace: tools
      port: ${ports.mcp}
      tools:
        - name: list-ships
          description: List ships.
          call: api.list
    - type: skill
      namespace: skills
      port: ${ports.skill}
      authentication:
        type: bearer
        token: '{{SKILL_TOKEN}}'
      skills:
        - name: fleet-ops
          description: ${description}
          license: MIT
          metadata:
            team: fleet
          tools:
            - name: list-ships
              description: List ships.
              from:
                sourceNamespace: tools
                action: list-ships
        - name: guide
          description: How to use the fleet tools
          location: file://${SKILL_DIR}
          tools:
            - name: read-guide
              description: The guide.
              instruction: guide.md
    - type: control
      port: ${ports.control}
      management:
        info: true
        reload: true
        validate: true
        logs: true
    - type: control
      port: ${ports.control2}
      authentication:
        type: bearer
        token: '{{CONTROL_TOKEN}}'
      management:
        health: false
        reload: true
      observability:
        metrics:
          local:
            enabled: false
`;
}

describe('skill and control adapters', () => {
  let px, dir, file, ports, skill, control, control2;
  const SKILL_AUTH = { authorization: 'Bearer skill-secret' };
  const CONTROL_AUTH = { authorization: 'Bearer control-secret' };

  before(async () => {
    ports = { rest: await freePort(), mcp: await freePort(), skill: await freePort(), control: await freePort(), control2: await freePort() };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cpx-adapters-'));
    file = path.join(dir, 'adapters.yaml');
    fs.writeFileSync(file, doc({ ports }));
    px = await startProxy({ args: [file], env: { CPX_SKILL_TOKEN: 'skill-secret', CPX_CONTROL_TOKEN: 'control-secret' } });
    skill = `http://127.0.0.1:${ports.skill}`;
    control = `http://127.0.0.1:${ports.control}`;
    control2 = `http://127.0.0.1:${ports.control2}`;
  });
  after(async () => {
    const r = await px?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(r?.sanitizer ?? [], []);
  });

  test('skill catalog: count, names, tool names', async () => {
    const r = await request(skill, '/skills', { headers: SKILL_AUTH });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      count: 2,
      skills: [
        { name: 'fleet-ops', description: 'Fleet management', license: 'MIT', tools: ['list-ships'] },
        { name: 'guide', description: 'How to use the fleet tools', tools: ['read-guide'] },
      ],
    });
  });

  test('skill detail: a derived tool names its adapter and mode', async () => {
    const r = await request(skill, '/skills/fleet-ops', { headers: SKILL_AUTH });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {
      name: 'fleet-ops',
      description: 'Fleet management',
      license: 'MIT',
      metadata: { team: 'fleet' },
      tools: [
        {
          name: 'list-ships',
          description: 'List ships.',
          type: 'derived',
          invocationRef: { targetNamespace: 'tools', action: 'list-ships', mode: 'mcp' },
        },
      ],
    });
  });

  test('skill instruction: the detail names the file, contents lists and serves it', async () => {
    const d = await request(skill, '/skills/guide', { headers: SKILL_AUTH });
    assert.deepEqual(d.json.tools, [{ name: 'read-guide', description: 'The guide.', type: 'instruction', instruction: 'guide.md' }]);
    const c = await request(skill, '/skills/guide/contents', { headers: SKILL_AUTH });
    assert.equal(c.status, 200);
    assert.deepEqual(c.json, {
      name: 'guide',
      files: [
        { path: 'guide.md', size: fs.statSync(path.join(SKILL_DIR, 'guide.md')).size, type: 'text/markdown' },
        { path: 'notes.txt', size: 6, type: 'text/plain' },
      ],
    });
    const f = await request(skill, '/skills/guide/contents/guide.md', { headers: SKILL_AUTH });
    assert.equal(f.status, 200);
    assert.match(f.headers['content-type'], /text\/markdown/);
    assert.equal(f.text, fs.readFileSync(path.join(SKILL_DIR, 'guide.md'), 'utf8'));
    const esc = await request(skill, '/skills/guide/contents/..%2F..%2Fadapters.test.mjs', { headers: SKILL_AUTH });
    assert.equal(esc.status, 400);
    const none = await request(skill, '/skills/nope', { headers: SKILL_AUTH });
    assert.equal(none.status, 404);
  });

  test('skill: 401 without the adapter credential, 405 on POST', async () => {
    const r = await request(skill, '/skills');
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'], /Bearer/);
    const w = await request(skill, '/skills', { headers: { authorization: 'Bearer wrong' } });
    assert.equal(w.status, 401);
    const p = await request(skill, '/skills', { method: 'POST', headers: SKILL_AUTH, body: {} });
    assert.equal(p.status, 405);
  });

  test('control: health, status, logs, metrics when enabled', async () => {
    assert.deepEqual((await request(control, '/health/live')).json, { status: 'UP' });
    const ready = await request(control, '/health/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.json.status, 'UP');
    assert.deepEqual(ready.json.adapters.map((a) => a.type), ['rest', 'mcp', 'skill', 'control', 'control']);
    const st = await request(control, '/status');
    assert.equal(st.status, 200);
    assert.deepEqual(st.json.capability, { label: 'Adapters test', specVersion: '1.0.0-alpha2' });
    assert.match(st.json.uptime, /^PT[0-9.]+S$/);
    const logs = await request(control, '/logs');
    assert.deepEqual(logs.json, { loggers: { ROOT: { configuredLevel: 'INFO', effectiveLevel: 'INFO' } } });
    const set = await request(control, '/logs/ROOT', { method: 'PUT', body: { level: 'DEBUG' } });
    assert.equal(set.status, 200);
    assert.equal(set.json.loggers.ROOT.effectiveLevel, 'DEBUG');
    const badLevel = await request(control, '/logs/ROOT', { method: 'PUT', body: { level: 'LOUD' } });
    assert.equal(badLevel.status, 400);
    await request(control, '/logs/ROOT', { method: 'PUT', body: { level: 'INFO' } });
    const m = await request(control, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /capproxy_/);
  });

  test('control: endpoints off are 404; health off, metrics off on the second port', async () => {
    assert.equal((await request(control2, '/health/live', { headers: CONTROL_AUTH })).status, 404);
    assert.equal((await request(control2, '/metrics', { headers: CONTROL_AUTH })).status, 404);
    assert.equal((await request(control2, '/status', { headers: CONTROL_AUTH })).status, 404);
    assert.equal((await request(control2, '/logs', { headers: CONTROL_AUTH })).status, 404);
    assert.equal((await request(control2, '/config/validate', { method: 'POST', headers: CONTROL_AUTH, body: 'x' })).status, 404);
  });

  test('control: authentication guards every endpoint of the second port', async () => {
    const r = await request(control2, '/config/reload', { method: 'POST' });
    assert.equal(r.status, 401);
    const ok = await request(control2, '/config/reload', { method: 'POST', headers: CONTROL_AUTH });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.status, 'applied');
  });

  test('control: validate loads a posted document and applies nothing', async () => {
    const good = await request(control, '/config/validate', {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: doc({ ports: { rest: 5, mcp: 1, skill: 2, control: 3, control2: 4 } }),
    });
    assert.equal(good.status, 200);
    assert.equal(good.json.valid, true, JSON.stringify(good.json));
    const bad = await request(control, '/config/validate', {
      method: 'POST',
      body: 'naftiko: 1.0.0-alpha2\ncapability:\n  exposes:\n  - type: control\n    port: 9\n    managment: {}\n',
    });
    assert.equal(bad.status, 200);
    assert.equal(bad.json.valid, false);
    assert.match(bad.json.errors[0].message, /unknown key 'managment'.*did you mean 'management'/);
    assert.equal(bad.json.errors[0].line, 6);
  });

  test('control: reload by POST changes what is served; GET is 405', async () => {
    const g = await request(control, '/config/reload');
    assert.equal(g.status, 405);
    assert.equal(g.headers.allow, 'POST');
    fs.writeFileSync(file, doc({ ports, description: 'Fleet management, reloaded' }));
    const r = await request(control, '/config/reload', { method: 'POST' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'applied' });
    const after = await request(skill, '/skills/fleet-ops', { headers: SKILL_AUTH });
    assert.equal(after.json.description, 'Fleet management, reloaded');
    // A document that does not load is refused; the previous one keeps serving.
    fs.writeFileSync(file, 'naftiko: 1.0.0-alpha2\ncapability: [\n');
    const bad = await request(control, '/config/reload', { method: 'POST' });
    assert.equal(bad.status, 409);
    assert.equal(bad.json.status, 'rejected');
    const still = await request(skill, '/skills/fleet-ops', { headers: SKILL_AUTH });
    assert.equal(still.json.description, 'Fleet management, reloaded');
  });
});
