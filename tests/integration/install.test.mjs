// `meson install` into a temporary prefix, then the installed binary started from a directory
// that has neither config/ nor capabilities/: it finds the installed defaults (validate,
// mcp-stdio initialize and tools/list through the SDK client, REST serve). And `--help` lists
// exactly the environment variables README.md's configuration table lists.
// Run: cd tests/integration && node --test install.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { repoRoot, binPath } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectStdio, closeClient, listAllTools } from './mcp-helpers.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const SECRET = 'sk-capproxy-INSTALL-5e6f7a8b9c0d';

describe('meson install', () => {
  let tmp, prefix, bin, elsewhere;

  before(async () => {
    // its own build directory: the install paths are compiled in from the prefix
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-install-'));
    prefix = path.join(tmp, 'prefix');
    const build = path.join(tmp, 'build');
    const run = (cmd, args) => execFileSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    run('meson', ['setup', `--prefix=${prefix}`, '-Dbuildtype=plain', build]);
    run('ninja', ['-C', build, 'capproxy']);
    run('meson', ['install', '-C', build, '--no-rebuild', '--quiet']);
    bin = path.join(prefix, 'bin', 'capproxy');
    elsewhere = path.join(tmp, 'elsewhere');
    fs.mkdirSync(elsewhere);
  }, { timeout: 600_000 });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the binary, the served capabilities, the examples and the configuration are installed', T, () => {
    assert.ok(fs.statSync(bin).mode & 0o111, 'bin/capproxy is executable');
    const caps = fs.readdirSync(path.join(prefix, 'share', 'capproxy', 'capabilities')).sort();
    const shipped = fs.readdirSync(path.join(repoRoot, 'capabilities')).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(caps, shipped);
    assert.ok(fs.existsSync(path.join(prefix, 'share', 'capproxy', 'examples', 'shipyard', 'shipyard.yaml')));
    assert.equal(
      fs.readFileSync(path.join(prefix, 'etc', 'capproxy', 'capproxy.yaml'), 'utf8'),
      fs.readFileSync(path.join(repoRoot, 'config', 'capproxy.yaml'), 'utf8'),
    );
  });

  test('validate from another directory checks the installed documents', T, async () => {
    const out = execFileSync(bin, ['validate'], { cwd: elsewhere, env: { PATH: process.env.PATH }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const n = fs.readdirSync(path.join(repoRoot, 'capabilities')).filter((f) => f.endsWith('.yaml')).length;
    assert.equal(out.trim(), `capproxy: ${n} documents valid`);
  });

  test('mcp-stdio from / (as a desktop client starts it): initialize and tools/list', T, async () => {
    const c = await connectStdio({ command: bin, cwd: '/', rawEnv: { PATH: process.env.PATH, CAL_COM_API_KEY: 'cal_test_0123456789abcdef', CAL_COM_CLIENT_SECRET: SECRET } });
    try {
      const tools = await listAllTools(c.client);
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('cal_platform_me_controller_get_me'), `the platform tools: ${names.slice(0, 10).join(', ')}`);
      assert.ok(names.filter((n) => n.startsWith('cal_platform_')).length >= 29, 'the platform tools');
      assert.ok(c.lines.some((l) => /capabilities \S*share\/capproxy\/capabilities \(installed default\)/.test(l)), `the log says which defaults: ${c.lines.join('\n')}`);
    } finally {
      await closeClient(c);
    }
  });

  test('serve from another directory: REST answers with the configured credential', T, async () => {
    const up = await startUpstream();
    up.handle((rec) => ({ status: 200, body: { path: rec.path } }));
    // startProxy runs the checkout's binary from the checkout: spawn the installed one here
    const { spawn } = await import('node:child_process');
    const env = { PATH: process.env.PATH, CAPPROXY_REST_LISTEN: '127.0.0.1:0', CAPPROXY_MCP_LISTEN: '127.0.0.1:0', CAPPROXY_ADMIN_LISTEN: '127.0.0.1:0', CAPPROXY_WORKERS: '1', CAL_COM_BASE_URI: up.url, CAL_COM_CLIENT_SECRET: SECRET };
    const child = spawn(bin, [], { cwd: elsewhere, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    try {
      const port = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no rest listener:\n${err}`)), 15_000 * SCALE);
        child.stderr.setEncoding('utf8').on('data', (s) => {
          err += s;
          const m = /rest listening on 127\.0\.0\.1:(\d+)/.exec(err);
          if (m && /ready, /.test(err)) {
            clearTimeout(t);
            resolve(Number(m[1]));
          }
        });
        child.on('exit', () => reject(new Error(`capproxy exited:\n${err}`)));
      });
      assert.match(err, /configuration \S*etc\/capproxy\/capproxy\.yaml \(installed default\)/);
      const r = await request(`http://127.0.0.1:${port}`, '/v1/v2/oauth-clients/c/users/1');
      assert.equal(r.status, 200, r.text);
      assert.equal(up.requests.at(-1).headers['x-cal-secret-key'], SECRET);
    } finally {
      child.kill('SIGTERM');
      await new Promise((res) => (child.exitCode !== null ? res() : child.on('exit', res)));
      await up.close();
    }
    assert.equal(child.exitCode, 0, err.split('\n').slice(-10).join('\n'));
  });
});

describe('--help', () => {
  test('lists every environment variable of README.md, and no other', T, () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.split('\n## Configuration')[1].split('\n## ')[0];
    const fromReadme = new Set();
    for (const row of section.split('\n').filter((l) => l.startsWith('|'))) {
      const env = row.split('|')[2] ?? '';
      for (const m of env.matchAll(/\b((?:CAPPROXY|CAL_COM)_[A-Z_]+)\b/g)) fromReadme.add(m[1]);
    }
    assert.ok(fromReadme.has('CAL_COM_API_KEY'), 'README lists CAL_COM_API_KEY');
    const help = execFileSync(binPath, ['--help'], { encoding: 'utf8' });
    const fromHelp = new Set([...help.matchAll(/\b((?:CAPPROXY|CAL_COM)_[A-Z_]+)\b/g)].map((m) => m[1]));
    assert.ok(fromHelp.has('CAL_COM_API_KEY'), '--help names CAL_COM_API_KEY');
    assert.ok(fromReadme.size >= 20, `README's table has the variables: ${[...fromReadme].join(' ')}`);
    const missingInHelp = [...fromReadme].filter((v) => !fromHelp.has(v));
    const missingInReadme = [...fromHelp].filter((v) => !fromReadme.has(v));
    assert.deepEqual(missingInHelp, [], 'README variables that --help does not list');
    assert.deepEqual(missingInReadme, [], '--help variables that README.md does not list');
  });
});
