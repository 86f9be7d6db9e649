// Listeners and start-up defaults (issue 8, section 4): a listen address held by another process
// is a start-up error, REST defaults to loopback, a credential-injecting adapter reachable from
// the network without `authentication` is warned about, the upstream's Server header stays with
// capproxy, and placeholder secrets refuse to start.
// Run: cd tests/integration && node --test listen.test.mjs   (CAPPROXY_BIN=build-asan/capproxy for ASan)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { rpc, openSession, req, show } from './mcp-helpers.mjs';

const SECRET = 'sk-capproxy-LISTEN-7d3a9c1e5b2f4086a7e1';
const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };
const T_LONG = { timeout: 60_000 * SCALE };

const SEED = path.join(repoRoot, 'capabilities', 'cal-com-managed-users.yaml');
const SEED_ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-managed-users.yaml'];
const BASE_ENV = { CAL_COM_CLIENT_SECRET: SECRET };
const R_GET = '/v1/v2/oauth-clients/abc/users/1';

function describeRes(r) {
  return `${r.status} ${JSON.stringify(r.headers)} ${String(r.text).slice(0, 300)}`;
}

/** Start a proxy that is expected to refuse to start; resolves its exit and stderr. */
async function startFails(opts) {
  const px = await startProxy({ ...opts, waitReady: false });
  let r;
  try {
    r = await px.waitExit(15_000 * SCALE);
  } catch (e) {
    // it started (the bug): stop it so that it does not hold the port for the next test
    await px.stop(5000).catch(() => {});
    throw new Error(`capproxy did not exit on its own: ${e.message}; stderr:\n${px.stderr()}`);
  }
  return { ...r, stderr: px.stderr(), lines: px.lines };
}

async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
  assert.equal(r.killed, false, 'capproxy had to be killed');
  assert.equal(r.code, 0, `exit code; stderr tail:\n${px.lines.slice(-20).join('\n')}`);
}

// ---------------------------------------------------------------------------------------------

describe('a listen address in use by another process is a start-up error', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: SEED_ARGS, env: BASE_ENV });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  /** 40 fresh connections to the first proxy: every one answered by it (its upstream saw them). */
  async function firstServesAll() {
    up.reset();
    const n = 40;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => request(px.restUrl, `/v1/v2/oauth-clients/c${i}/users/${i + 1}`)));
    for (const r of rs) assert.equal(r.status, 200, describeRes(r));
    await up.waitForRequests(n);
    assert.equal(up.requests.length, n, 'every request reached the first proxy\'s upstream');
    const s = await openSession(px);
    for (let i = 0; i < 10; i++) {
      const c = await rpc(px, req('tools/call', { name: 'get-managed-user', arguments: { clientId: 'm', userId: i + 1 } }), { session: s.session, version: s.version });
      assert.equal(c.status, 200, show(c));
      assert.ok(c.msg?.result && !c.msg.result.isError, show(c));
    }
  }

  test('a second capproxy on the same REST port: exit 1, "address in use"; the first keeps serving', T, async () => {
    const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_REST_LISTEN: `127.0.0.1:${px.rest.port}` } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${px.rest.port} \\(rest\\): address in use by another process`), r.stderr);
    assert.ok(!r.lines.some((l) => /\bready\b/.test(l)), 'it never said ready');
    await firstServesAll();
  });

  test('a second capproxy on the same MCP port: exit 1, "address in use"; the first keeps serving', T, async () => {
    const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_MCP_LISTEN: `127.0.0.1:${px.mcp.port}` } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${px.mcp.port} \\(mcp\\): address in use by another process`), r.stderr);
    await firstServesAll();
  });

  test('a second capproxy on the same admin port: exit 1, "address in use"', T, async () => {
    const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_ADMIN_LISTEN: `127.0.0.1:${px.admin.port}` } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${px.admin.port} \\(admin\\): address in use by another process`), r.stderr);
    const h = await request(px.adminUrl, '/healthz');
    assert.equal(h.status, 200);
  });

  test('a port held by a plain node server: exit 1, "address in use", naming the listener', T, async () => {
    const srv = http.createServer((q, s) => s.end('node'));
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    const port = srv.address().port;
    try {
      const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_REST_LISTEN: `127.0.0.1:${port}` } });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(rest\\): address in use by another process`), r.stderr);
      const n = await request(`http://127.0.0.1:${port}`, '/');
      assert.equal(n.text, 'node', 'the node server still has its port');
    } finally {
      await new Promise((res) => srv.close(res));
    }
  });

  test('REST and MCP configured on one port of this process: a clear error, not "another process"', T, async () => {
    const srv = http.createServer();
    await new Promise((res) => srv.listen(0, '127.0.0.1', res));
    const port = srv.address().port;
    await new Promise((res) => srv.close(res));
    const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_REST_LISTEN: `127.0.0.1:${port}`, CAPPROXY_MCP_LISTEN: `127.0.0.1:${port}` } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(mcp\\): the rest listener is on 127\\.0\\.0\\.1:${port} too`), r.stderr);
  });

  test('after a SIGHUP reload the listeners still hold their ports; the first proxy stops cleanly', T_LONG, async () => {
    const from = px.lines.length;
    px.child.kill('SIGHUP');
    await px.waitForLine(/reloaded:/, 10_000 * SCALE, from);
    const r = await startFails({ upstream: up, args: SEED_ARGS, env: { ...BASE_ENV, CAPPROXY_REST_LISTEN: `127.0.0.1:${px.rest.port}` } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /address in use by another process/, r.stderr);
    await firstServesAll();
    await stopClean(px);
  });
});

// ---------------------------------------------------------------------------------------------

describe('loopback unless told otherwise', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-listen-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('no CAPPROXY_*_LISTEN and a listen without host: REST, MCP and admin are on 127.0.0.1', T, async () => {
    // A free port through the configuration file, with no host: the defaults choose the host.
    const cfg = fs.readFileSync(path.join(repoRoot, 'config', 'capproxy.yaml'), 'utf8')
      .replace(/^rest:\n((?: {2}#.*\n)*) {2}listen: ""/m, 'rest:\n$1  listen: ":0"')
      .replace(/^mcp:\n((?: {2}#.*\n)*) {2}listen: ""/m, 'mcp:\n$1  listen: ":0"');
    assert.match(cfg, /^rest:\n(?: {2}#.*\n)* {2}listen: ":0"/m, 'the configuration was rewritten (rest)');
    assert.match(cfg, /^mcp:\n(?: {2}#.*\n)* {2}listen: ":0"/m, 'the configuration was rewritten (mcp)');
    const file = path.join(dir, 'capproxy.yaml');
    fs.writeFileSync(file, `${cfg}\nadmin:\n  listen: ":0"\n`);
    const up = await startUpstream();
    const px = await startProxy({
      upstream: up,
      args: ['-c', file, 'capabilities/cal-com-managed-users.yaml'],
      env: { ...BASE_ENV, CAPPROXY_REST_LISTEN: null, CAPPROXY_MCP_LISTEN: null, CAPPROXY_ADMIN_LISTEN: null },
    });
    try {
      for (const kind of ['rest', 'mcp', 'admin']) {
        const line = px.lines.find((l) => new RegExp(`\\b${kind} listening on `).test(l));
        assert.match(line || '', new RegExp(`${kind} listening on 127\\.0\\.0\\.1:[1-9]\\d*\\b`), `${kind}: ${line}`);
      }
      const r = await request(px.restUrl, R_GET);
      assert.equal(r.status, 200, describeRes(r));
      await stopClean(px);
    } finally {
      if (!px.exited) await px.stop().catch(() => {});
      await up.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('warning: a credential-injecting adapter on a non-loopback address without authentication', () => {
  let dir;
  let authDoc;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-listen-'));
    const seed = fs.readFileSync(SEED, 'utf8');
    const doc = seed
      .replace('binds:\n- namespace: env\n  keys:\n    CAL_COM_API_KEY: CAL_COM_API_KEY', 'binds:\n- namespace: env\n  keys:\n    CAL_COM_API_KEY: CAL_COM_API_KEY\n    INBOUND_TOKEN: CPX_TEST_INBOUND_TOKEN')
      .replace('    namespace: cal-com-deprecated-platform-managed-users-rest\n', "    namespace: cal-com-deprecated-platform-managed-users-rest\n    authentication:\n      type: bearer\n      token: '{{INBOUND_TOKEN}}'\n");
    assert.ok(doc.includes("token: '{{INBOUND_TOKEN}}'"), 'the document was rewritten');
    authDoc = path.join(dir, 'seed-auth.yaml');
    fs.writeFileSync(authDoc, doc);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const REST_NS = 'cal-com-deprecated-platform-managed-users-rest';
  const MCP_NS = 'cal-com-deprecated-platform-managed-users-mcp';
  const warnRe = (ns) => new RegExp(`warning: adapter '${ns}' listens on 0\\.0\\.0\\.0:\\d+, which is not loopback, has no 'authentication' and injects the configured x-cal-secret-key: anyone who can reach that address can call the upstream API`);

  // validate builds the same runtime as a start (and binds nothing): the warning is a start-up one
  const validate = (env, doc = 'capabilities/cal-com-managed-users.yaml') => runCapproxy(['validate', '-c', 'config/capproxy.yaml', doc], { env: { CAL_COM_BASE_URI: 'http://127.0.0.1:9', ...env }, timeoutMs: 15_000 * SCALE });

  test('REST and MCP on 0.0.0.0 with the secret configured: one warning per adapter, naming it and the risk; none on loopback, without a configured secret, or with authentication', T, async () => {
    const r = await validate({ ...BASE_ENV, CAPPROXY_REST_LISTEN: '0.0.0.0:8080', CAPPROXY_MCP_LISTEN: '0.0.0.0:9090' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, warnRe(REST_NS), r.stderr);
    assert.match(r.stderr, warnRe(MCP_NS), r.stderr);
    assert.ok(!r.stderr.includes(SECRET), 'the secret is not printed');
    const quiet = [
      [{ ...BASE_ENV, CAPPROXY_REST_LISTEN: '127.0.0.1:8080', CAPPROXY_MCP_LISTEN: '127.0.0.1:9090' }, undefined, 'loopback'],
      [{ CAPPROXY_REST_LISTEN: '0.0.0.0:8080', CAPPROXY_MCP_LISTEN: '0.0.0.0:9090' }, undefined, 'nothing injected'],
      [{ ...BASE_ENV, CAPPROXY_REST_LISTEN: '0.0.0.0:8080', CPX_TEST_INBOUND_TOKEN: 'inbound-4c1f' }, authDoc, 'authentication'],
    ];
    for (const [env, doc, why] of quiet) {
      const q = await validate(env, doc);
      assert.equal(q.code, 0, q.stderr);
      assert.doesNotMatch(q.stderr, /not loopback/, `${why}:\n${q.stderr}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('response headers: the upstream Server header is not passed on', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: SEED_ARGS, env: BASE_ENV });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  test('REST: Server dropped, other end-to-end headers kept; MCP tools/call: nowhere in the answer', T, async () => {
    up.handle(() => ({ status: 200, headers: { server: 'Apache/2.4.1 (Unix) upstream-internal', 'x-upstream-note': 'kept' }, body: { status: 'success', data: { id: 1 } } }));
    const r = await request(px.restUrl, R_GET);
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.headers['x-upstream-note'], 'kept', describeRes(r));
    assert.equal(r.headers.server, undefined, describeRes(r));
    assert.ok(!r.rawHeaders.some((h) => /upstream-internal/.test(h)), describeRes(r));
    // MCP answers with JSON-RPC: the upstream's headers are not in it, Server included
    const s = await openSession(px);
    const c = await rpc(px, req('tools/call', { name: 'get-managed-user', arguments: { clientId: 'm', userId: 1 } }), { session: s.session, version: s.version });
    assert.equal(c.status, 200, show(c));
    assert.equal(c.headers.server, undefined, show(c));
    assert.ok(!c.text.includes('upstream-internal') && !c.rawHeaders.some((h) => /upstream-internal/.test(h)), show(c));
    await stopClean(px);
  });
});

// ---------------------------------------------------------------------------------------------

describe('placeholder secrets are a start-up error', () => {
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-listen-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const PLATFORM_ARGS = ['-c', 'config/capproxy.yaml', 'capabilities/cal-com-platform-me.yaml'];

  /** Exit 1, every pattern in the log, no value in it, never ready. */
  async function refused(env, patterns, values, args = SEED_ARGS) {
    const r = await startFails({ upstream: 'http://127.0.0.1:9', args, env });
    assert.equal(r.code, 1, r.stderr);
    for (const re of patterns) assert.match(r.stderr, re, r.stderr);
    for (const v of values) assert.ok(!r.stderr.includes(v), `the value ${JSON.stringify(v)} is not printed:\n${r.stderr}`);
    assert.ok(!r.lines.some((l) => /\bready\b/.test(l)), 'it never said ready');
  }

  test('a configured credential from the environment (REPLACE-ME..., changeme, <...>, your-...-here); real-looking values start', T_LONG, async () => {
    for (const v of ['REPLACE-ME-cal-com-oauth-client-secret', 'changeme', '<your-client-secret>', 'your-client-secret-here', 'xxxxxxxxxxxx']) {
      await refused({ CAL_COM_CLIENT_SECRET: v }, [/environment variable CAL_COM_CLIENT_SECRET \(header 'x-cal-secret-key'\) holds a placeholder/], [v]);
    }
    // the seed binds CAL_COM_API_KEY without using it: whatever it holds is not a credential
    const up = await startUpstream();
    const px = await startProxy({ upstream: up, args: SEED_ARGS, env: { CAL_COM_CLIENT_SECRET: 'todoist-9f1c2e7a-not-a-placeholder', CAL_COM_API_KEY: 'changeme', CAPPROXY_SESSION_KEY: 'a3f9c2e17b5d4e8f9a0b1c2d3e4f5a6b' } });
    try {
      const r = await request(px.restUrl, R_GET);
      assert.equal(r.status, 200, describeRes(r));
      await stopClean(px);
    } finally {
      if (!px.exited) await px.stop().catch(() => {});
      await up.close();
    }
  });

  test('a configured credential from a file', T, async () => {
    const v = 'REPLACE_ME_client_secret_from_file';
    const file = path.join(dir, 'client-secret');
    fs.writeFileSync(file, `${v}\n`);
    await refused({ CAL_COM_CLIENT_SECRET_FILE: file }, [new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: error: the secret file for header 'x-cal-secret-key' holds a placeholder`)], [v]);
  });

  test('CAPPROXY_SESSION_KEY', T, async () => {
    const v = 'REPLACE-ME-at-least-32-random-bytes';
    await refused({ ...BASE_ENV, CAPPROXY_SESSION_KEY: v }, [/environment variable CAPPROXY_SESSION_KEY holds a placeholder/], [v]);
  });

  test('a bind variable used as a credential (the API key of the platform documents)', T, async () => {
    const v = 'REPLACE-ME-cal_live_api_key';
    await refused({ ...BASE_ENV, CAL_COM_API_KEY: v }, [/cal-com-platform-me\.yaml:\d+:\d+: error: bind variable 'CAL_COM_API_KEY' is a credential but environment variable 'CAL_COM_API_KEY' holds a placeholder/], [v], PLATFORM_ARGS);
  });
});
