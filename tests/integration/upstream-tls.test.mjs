// upstream.caFile (CAPPROXY_UPSTREAM_CA_FILE): a private CA for an HTTPS upstream. A recording
// node:https upstream with a certificate signed by a CA made here with the openssl CLI is reached
// when capproxy is given that CA, and refused (502, a problem naming TLS) without it; a caFile
// that cannot be read stops the start with its path, and a misspelt key gets "did you mean".
// Run: cd tests/integration && node --test upstream-tls.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { startProxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';

const T = { timeout: 30_000 };
const SECRET = 'tls-upstream-secret-5d1e';
const PATH = '/v1/v2/oauth-clients/abc/users/42';

/** A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI in <dir>. */
function makeCerts(dir) {
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=capproxy test CA',
    '-keyout', 'ca.key', '-out', 'ca.pem');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext.cnf', '-out', 'server.pem');
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

/** An HTTPS upstream that records every request and answers a small JSON body. */
async function startTlsUpstream(certs) {
  const requests = [];
  const server = https.createServer({ cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }, (req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    const body = JSON.stringify({ id: 42, via: 'tls', path: req.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const handshakeErrors = [];
  server.on('tlsClientError', (e) => handshakeErrors.push(e.message));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${server.address().port}`,
    requests,
    handshakeErrors,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

describe('upstream.caFile: an HTTPS upstream signed by a private CA', () => {
  let dir, certs, up;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-upstream-tls-'));
    certs = makeCerts(dir);
    up = await startTlsUpstream(certs);
  });
  after(async () => {
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('with CAPPROXY_UPSTREAM_CA_FILE: verified, proxied, secret injected', T, async () => {
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_UPSTREAM_CA_FILE: certs.ca } });
    try {
      const before = up.requests.length;
      const r = await request(px.restUrl, PATH);
      assert.equal(r.status, 200, `expected 200, got ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(r.json.via, 'tls');
      assert.equal(r.json.path, '/v2/oauth-clients/abc/users/42');
      assert.equal(up.requests.length, before + 1);
      assert.equal(up.requests.at(-1).headers['x-cal-secret-key'], SECRET);
      // a second call reuses the verified connection and still works
      assert.equal((await request(px.restUrl, PATH)).status, 200);
    } finally {
      const st = await px.stop();
      assert.equal(st.sanitizer, null, st.sanitizer || '');
      assert.ok(!st.lines.join('\n').includes(SECRET), 'the secret appears in the log');
    }
  });

  test('with upstream.caFile in the configuration file', T, async () => {
    const cfg = path.join(dir, 'capproxy.yaml');
    const base = fs.readFileSync(path.join(repoRoot, 'config', 'capproxy.yaml'), 'utf8');
    fs.writeFileSync(cfg, base.replace(/^upstream:\n/m, `upstream:\n  caFile: ${certs.ca}\n`));
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET }, args: ['-c', cfg, 'capabilities/'] });
    try {
      const r = await request(px.restUrl, PATH);
      assert.equal(r.status, 200, `expected 200, got ${r.status} ${r.text.slice(0, 300)}`);
    } finally {
      await px.stop();
    }
  });

  test('without the CA: 502, a problem naming TLS, nothing reaches the upstream', T, async () => {
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET } });
    try {
      const before = up.requests.length;
      const r = await request(px.restUrl, PATH);
      assert.equal(r.status, 502, `expected 502, got ${r.status} ${r.text.slice(0, 300)}`);
      assert.match(r.headers['content-type'], /application\/problem\+json/);
      assert.equal(r.json.upstream_error, 'tls', `problem body: ${r.text}`);
      assert.equal(up.requests.length, before, 'an unverified upstream must not receive the request');
      assert.ok(!r.text.includes(SECRET));
    } finally {
      await px.stop();
    }
  });

  test('a caFile that cannot be read stops the start, naming the path', T, async () => {
    const missing = path.join(dir, 'no-such-ca.pem');
    for (const ca of [missing, dir]) {
      const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, CAPPROXY_UPSTREAM_CA_FILE: ca }, waitReady: false });
      const ex = await px.waitExit(15_000);
      assert.notEqual(ex.code, 0, 'capproxy started with an unreadable caFile');
      const err = px.lines.join('\n');
      assert.ok(err.includes(ca), `the error does not name ${ca}:\n${err}`);
      assert.match(err, /upstream\.caFile/);
    }
  });

  test('a misspelt caFile key: did you mean', T, async () => {
    const cfg = path.join(dir, 'typo.yaml');
    fs.writeFileSync(cfg, `upstream:\n  cafile: ${certs.ca}\n`);
    const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET }, args: ['-c', cfg, 'capabilities/'], waitReady: false });
    const ex = await px.waitExit(15_000);
    assert.notEqual(ex.code, 0);
    assert.match(px.lines.join('\n'), /typo\.yaml:2:3: error: unknown key 'cafile' in upstream \(did you mean 'caFile'\?\)/);
  });
});
