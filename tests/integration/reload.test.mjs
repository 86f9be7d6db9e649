// Reload without a signal (reload.watch): a capability file written into a watched directory
// adds its routes, and the log line says so; a broken edit keeps the running set and logs why;
// a credential file in a Kubernetes-style Secret volume rotated by the `..data` symlink swap
// reaches the upstream without a restart; several writes in a burst make one reload; with
// CAPPROXY_RELOAD_WATCH=off nothing reloads.
// Run: cd tests/integration && node --test reload.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const SEED = path.join(repoRoot, 'capabilities', 'cal-com-managed-users.yaml');
const SECRET = 'sk-capproxy-RELOAD-11aa22bb33cc44dd';
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// The seed without its MCP adapter, renamed and under /v1/extra/ (a second document that
// does not collide with the first).
function extraDocument() {
  let s = fs.readFileSync(SEED, 'utf8').split('\n  - type: mcp\n')[0] + '\n';
  s = s
    .replaceAll('cal-com-deprecated-platform-managed-users', 'cal-com-extra-users')
    .replaceAll('oauthclientuserscontroller', 'extrauserscontroller')
    .replaceAll('oauthflowcontroller', 'extraflowcontroller')
    .replaceAll('path: /v1/v2/', 'path: /v1/extra/');
  assert.ok(s.includes('path: /v1/extra/oauth-clients/{clientid}/users/{userid}'));
  return s;
}

async function stopOk(px) {
  const r = await px.stop();
  assert.equal(r.code, 0, `capproxy exit: ${JSON.stringify({ code: r.code, signal: r.signal })}\n${r.lines.slice(-20).join('\n')}`);
  assert.equal(r.sanitizer, null, r.sanitizer ?? '');
}

describe('reload.watch: documents', () => {
  let up, px, dir;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-reload-'));
    fs.copyFileSync(SEED, path.join(dir, 'a-seed.yaml'));
    up = await startUpstream();
    up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir], env: { CAL_COM_CLIENT_SECRET: SECRET } });
  });

  after(async () => {
    if (px) await stopOk(px);
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a new document in the directory: its routes answer, the log lists them', T, async () => {
    const before404 = await request(px.restUrl, '/v1/extra/oauth-clients/c/users/2');
    assert.equal(before404.status, 404);
    const from = px.lines.length;
    fs.writeFileSync(path.join(dir, 'b-extra.yaml'), extraDocument());
    const line = await px.waitForLine(/reloaded: /, 10_000 * SCALE, from);
    assert.match(line, /reloaded: 2 documents/);
    assert.match(line, /documents added: \S*b-extra\.yaml/);
    assert.match(line, /routes added: [^;]*GET \/v1\/extra\/oauth-clients\/\{clientid\}\/users/);
    assert.doesNotMatch(line, /routes removed|tools/, 'the extra document has no MCP adapter and removes nothing');
    assert.ok(px.lines.slice(from).some((l) => /watch: \S*b-extra\.yaml changed/.test(l)), 'the log names the changed file');
    const r = await request(px.restUrl, '/v1/extra/oauth-clients/c/users/2');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { path: '/v2/oauth-clients/c/users/2' });
  });

  test('a broken edit: the running set keeps serving, the error is logged', T, async () => {
    const from = px.lines.length;
    fs.writeFileSync(path.join(dir, 'b-extra.yaml'), 'naftiko: 1.0.0-alpha2\ncapability: [\n');
    await px.waitForLine(/reload failed; the previous configuration keeps serving/, 10_000 * SCALE, from);
    assert.ok(px.lines.slice(from).some((l) => /b-extra\.yaml:\d+:\d+: error:/.test(l)), `the error names the file:\n${px.lines.slice(from).join('\n')}`);
    for (const p of ['/v1/extra/oauth-clients/c/users/2', '/v1/v2/oauth-clients/c/users/3']) {
      const r = await request(px.restUrl, p);
      assert.equal(r.status, 200, `${p} after the broken edit: ${r.text}`);
    }
  });

  test('removing the document removes its routes; a burst of writes reloads once', T, async () => {
    let from = px.lines.length;
    fs.rmSync(path.join(dir, 'b-extra.yaml'));
    const line = await px.waitForLine(/reloaded: /, 10_000 * SCALE, from);
    assert.match(line, /reloaded: 1 documents/);
    assert.match(line, /routes removed: [^;]*GET \/v1\/extra\//);
    assert.equal((await request(px.restUrl, '/v1/extra/oauth-clients/c/users/2')).status, 404);

    // five writes 20 ms apart, well inside the 200 ms debounce: one reload
    from = px.lines.length;
    const doc = fs.readFileSync(path.join(dir, 'a-seed.yaml'), 'utf8');
    for (let i = 0; i < 5; i++) {
      fs.writeFileSync(path.join(dir, 'a-seed.yaml'), `${doc}\n# edit ${i}\n`);
      await sleep(20);
    }
    const l2 = await px.waitForLine(/reloaded: /, 10_000 * SCALE, from);
    assert.match(l2, /documents changed: \S*a-seed\.yaml; no|documents changed: \S*a-seed\.yaml$/);
    await sleep(1000 * SCALE);
    const reloads = px.lines.slice(from).filter((l) => /reloaded: /.test(l));
    assert.equal(reloads.length, 1, `one reload for the burst:\n${reloads.join('\n')}`);
  });
});

describe('reload.watch: a rotated Kubernetes Secret', () => {
  let up, px, dir;

  // A Secret volume as the kubelet writes it: the data in a timestamped directory, `..data`
  // a symbolic link to it, and each key a symbolic link through `..data`.
  function writeVersion(name, value) {
    fs.mkdirSync(path.join(dir, 'secrets', name));
    fs.writeFileSync(path.join(dir, 'secrets', name, 'cal-secret'), `${value}\n`);
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-reload-secret-'));
    fs.mkdirSync(path.join(dir, 'secrets'));
    writeVersion('..2024_01_01_00_00_00.1', `${SECRET}-one`);
    fs.symlinkSync('..2024_01_01_00_00_00.1', path.join(dir, 'secrets', '..data'));
    fs.symlinkSync('..data/cal-secret', path.join(dir, 'secrets', 'cal-secret'));
    // The configuration names the file relative to itself: it is read from its own directory,
    // whatever the working directory.
    const cfg = fs
      .readFileSync(path.join(repoRoot, 'config', 'capproxy.yaml'), 'utf8')
      .replace(/fromFile: .*/, 'fromFile: secrets/cal-secret');
    assert.match(cfg, /fromFile: secrets\/cal-secret/);
    fs.writeFileSync(path.join(dir, 'capproxy.yaml'), cfg);
    up = await startUpstream();
    up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
    px = await startProxy({ upstream: up, args: ['-c', path.join(dir, 'capproxy.yaml'), SEED], env: { CAL_COM_CLIENT_SECRET: null } });
  });

  after(async () => {
    if (px) await stopOk(px);
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function secretSent() {
    const n = up.requests.length;
    const r = await request(px.restUrl, '/v1/v2/oauth-clients/c/users/1');
    assert.equal(r.status, 200, r.text);
    return up.requests[n].headers['x-cal-secret-key'];
  }

  test('the ..data swap reloads, and the upstream gets the new secret', T, async () => {
    assert.equal(await secretSent(), `${SECRET}-one`);
    const from = px.lines.length;
    const s = path.join(dir, 'secrets');
    writeVersion('..2024_01_02_00_00_00.2', `${SECRET}-two`);
    fs.symlinkSync('..2024_01_02_00_00_00.2', path.join(s, '..data_tmp'));
    fs.renameSync(path.join(s, '..data_tmp'), path.join(s, '..data'));
    fs.rmSync(path.join(s, '..2024_01_01_00_00_00.1'), { recursive: true });
    const line = await px.waitForLine(/reloaded: /, 10_000 * SCALE, from);
    assert.match(line, /credentials changed: x-cal-secret-key \(file \S*secrets\/cal-secret\)/);
    assert.equal(await secretSent(), `${SECRET}-two`);
    assert.ok(!px.lines.some((l) => l.includes(SECRET)), 'no secret in the log');
  });
});

describe('reload.watch off', () => {
  test('CAPPROXY_RELOAD_WATCH=off: a new document is not loaded', T, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-reload-off-'));
    fs.copyFileSync(SEED, path.join(dir, 'a-seed.yaml'));
    const up = await startUpstream();
    const px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', dir], env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_RELOAD_WATCH: 'off' } });
    try {
      const from = px.lines.length;
      fs.writeFileSync(path.join(dir, 'b-extra.yaml'), extraDocument());
      await sleep(1000 * SCALE);
      assert.ok(!px.lines.slice(from).some((l) => /reload/.test(l)), px.lines.slice(from).join('\n'));
      assert.equal((await request(px.restUrl, '/v1/extra/oauth-clients/c/users/2')).status, 404);
    } finally {
      await stopOk(px);
      await up.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
