// OAuth 2.1 resource server (issue 11 item 6): capproxy checks access tokens issued by real
// authorization servers (oauth2-mock-server) started here: JWTs against the server's JWKS
// (found through its metadata), and introspection (RFC 7662). Tokens come from the server's
// token endpoint (client_credentials), never made by hand in the test.
//
// The mock's introspection endpoint does not read a form body (RFC 7662 sends one), so AS1 is
// its OAuth2Service behind a node:http handler that parses the form first; the answer is the
// package's own, shaped by its beforeIntrospect hook.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { OAuth2Issuer, OAuth2Server, OAuth2Service } from 'oauth2-mock-server';
import { decodeJwt, decodeProtectedHeader } from 'jose';

import { repoRoot, startProxy, sanitizerReport } from './capproxy.mjs';
import { request, hangUp } from './client.mjs';
import { startUpstream, closedPort, freePort } from './upstream.mjs';
import { SDKS, rpc, initMsg, connectHttp, closeClient, listAllTools, callTool, showResult, sleep } from './mcp-helpers.mjs';

const SECRET = 'introspection-secret-7f3a';

/** AS1: the mock's service behind a handler that parses form bodies (see the file comment).
 * <ctl>.jwksDelayMs delays its key set; <ctl>.jwksRequests counts them. */
async function startAs1(ctl = {}) {
  const issuer = new OAuth2Issuer();
  const service = new OAuth2Service(issuer);
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/jwks')) {
      ctl.jwksRequests = (ctl.jwksRequests || 0) + 1;
      setTimeout(() => service.requestHandler(req, res), ctl.jwksDelayMs || 0);
      return;
    }
    const ct = String(req.headers['content-type'] || '');
    if (req.method === 'POST' && req.url.startsWith('/introspect') && ct.startsWith('application/x-www-form-urlencoded')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        req.body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        service.requestHandler(req, res);
      });
      return;
    }
    service.requestHandler(req, res);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  issuer.url = `http://127.0.0.1:${server.address().port}`;
  return { issuer, service, url: issuer.url, stop: () => new Promise((res) => server.close(res)) };
}

/** A token from <as>'s token endpoint (client_credentials), optionally of one algorithm. */
async function getToken(as, { scope = 'tools:read', aud, alg, kid } = {}) {
  for (let i = 0; i < 8; i++) {
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope });
    if (aud) body.set('aud', aud);
    const r = await fetch(`${as.url || as.issuer.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    assert.equal(r.status, 200, await r.clone().text());
    const { access_token: t } = await r.json();
    const h = decodeProtectedHeader(t);
    if ((!alg || h.alg === alg) && (!kid || h.kid === kid)) return t;
  }
  throw new Error(`no ${alg || kid} token from ${as.url}`);
}

function wwwAuth(r) {
  return String(r.headers['www-authenticate'] || '');
}

describe('oauth2 resource server', () => {
  let as1, as2, up, px, mcp, dir;
  const introspections = [];
  const revoked = new Set();

  before(async () => {
    as1 = await startAs1();
    await as1.issuer.keys.generate('RS256');
    await as1.issuer.keys.generate('ES256');
    await as1.issuer.keys.generate('EdDSA');
    as1.service.on('beforeIntrospect', (resp, req) => {
      const auth = String(req.headers.authorization || '');
      introspections.push({ auth, body: req.body });
      if (auth !== `Basic ${Buffer.from(`capproxy-rs:${SECRET}`).toString('base64')}`) {
        resp.statusCode = 401;
        resp.body = { error: 'invalid_client' };
        return;
      }
      const token = req.body?.token;
      let claims = null;
      try {
        claims = decodeJwt(token);
      } catch {
        claims = null;
      }
      resp.body = !claims || revoked.has(token) ? { active: false } : { active: true, ...claims, client_id: 'agent' };
    });
    as2 = new OAuth2Server();
    await as2.issuer.keys.generate('RS256');
    await as2.start(0, '127.0.0.1');
    up = await startUpstream();
    const port = await freePort();
    mcp = `http://127.0.0.1:${port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-oauth-'));
    const doc = fs
      .readFileSync(path.join(repoRoot, 'tests/data/oauth/oauth.yaml'), 'utf8')
      .replaceAll('__AS1__', as1.url)
      .replaceAll('__AS2__', as2.issuer.url)
      .replaceAll('__MCP__', mcp)
      .replaceAll('__UP__', up.url);
    fs.writeFileSync(path.join(dir, 'oauth.yaml'), doc);
    px = await startProxy({
      args: ['-c', 'tests/data/oauth/capproxy.yaml', path.join(dir, 'oauth.yaml')],
      env: { CAPPROXY_MCP_LISTEN: `127.0.0.1:${port}`, CPX_INTROSPECTION_SECRET: SECRET },
    });
  });

  after(async () => {
    const r = px && (await px.stop());
    await as1?.stop();
    await as2?.stop().catch(() => {});
    await up?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (r) assert.equal(sanitizerReport(r.lines), null);
  });

  test('no token: 401 with a Bearer challenge naming the resource metadata, no error code', async () => {
    const r = await rpc(px, initMsg(), { path: '/mcp/secure' });
    assert.equal(r.status, 401, r.text);
    assert.equal(
      wwwAuth(r),
      `Bearer scope="tools:read", resource_metadata="${mcp}/.well-known/oauth-protected-resource/mcp/secure"`,
    );
    assert.match(r.msg.error.message, /^Unauthorized: an access token is required/);
  });

  test('Protected Resource Metadata (RFC 9728) at the endpoint path and at the bare path', async () => {
    const r = await request(mcp, '/.well-known/oauth-protected-resource/mcp/secure');
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json, {
      resource: `${mcp}/mcp/secure`,
      authorization_servers: [as1.url],
      scopes_supported: ['tools:read'],
      bearer_methods_supported: ['header'],
    });
    const bare = await request(mcp, '/.well-known/oauth-protected-resource');
    assert.equal(bare.status, 200, bare.text); /* /mcp: every MCP adapter of the port */
    assert.deepEqual(bare.json.authorization_servers, [as1.url, as2.issuer.url]);
    const none = await request(mcp, '/.well-known/oauth-protected-resource/mcp/nothing');
    assert.equal(none.status, 404);
    const post = await request(mcp, '/.well-known/oauth-protected-resource/mcp/secure', { method: 'POST', body: {} });
    assert.equal(post.status, 405);
  });

  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    test(`a real ${alg} token from the token endpoint is accepted`, async () => {
      const t = await getToken(as1, { aud: `${mcp}/mcp/secure`, alg });
      const r = await rpc(px, initMsg(), { path: '/mcp/secure', headers: { authorization: `Bearer ${t}` } });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.headers['mcp-session-id']);
    });
  }

  test('expired, wrong audience, wrong issuer, garbage: 401 invalid_token', async () => {
    const cases = [];
    as1.service.once('beforeTokenSigning', (tok) => {
      tok.payload.exp = Math.floor(Date.now() / 1000) - 300;
    });
    cases.push(['expired', await getToken(as1, { aud: `${mcp}/mcp/secure` }), /has expired/]);
    cases.push(['audience', await getToken(as1, { aud: 'https://elsewhere.example' }), /audience/]);
    as1.service.once('beforeTokenSigning', (tok) => {
      tok.payload.iss = 'http://127.0.0.1:1';
    });
    cases.push(['issuer', await getToken(as1, { aud: `${mcp}/mcp/secure` }), /issuer/]);
    cases.push(['garbage', 'not-a-jwt', /compact form/]);
    for (const [what, t, re] of cases) {
      const r = await rpc(px, initMsg(), { path: '/mcp/secure', headers: { authorization: `Bearer ${t}` } });
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.match(wwwAuth(r), /^Bearer error="invalid_token", error_description="[^"]+", scope="tools:read", resource_metadata="/, what);
      assert.match(r.msg.error.message, re, what);
    }
  });

  test('a tampered signature is refused', async () => {
    const t = await getToken(as1, { aud: `${mcp}/mcp/secure`, alg: 'RS256' });
    const [h, p, s] = t.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'tools:read admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const r = await rpc(px, initMsg(), { path: '/mcp/secure', headers: { authorization: `Bearer ${forged}` } });
    assert.equal(r.status, 401, r.text);
    assert.match(r.msg.error.message, /signature does not verify/);
  });

  test('a token without the required scope: 403 insufficient_scope', async () => {
    const t = await getToken(as1, { aud: `${mcp}/mcp/secure`, scope: 'other' });
    const r = await rpc(px, initMsg(), { path: '/mcp/secure', headers: { authorization: `Bearer ${t}` } });
    assert.equal(r.status, 403, r.text);
    assert.match(wwwAuth(r), /^Bearer error="insufficient_scope", error_description="the token lacks scope 'tools:read'", scope="tools:read", resource_metadata=/);
  });

  test('REST: audience from `audience`, problem documents, no resource_metadata', async () => {
    const ok = await getToken(as1, { aud: 'api://capproxy', scope: 'api:read' });
    let r = await request(px.restUrl, '/things', { headers: { authorization: `Bearer ${ok}` } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { things: 'a, b, c' });
    r = await request(px.restUrl, '/things');
    assert.equal(r.status, 401);
    assert.equal(wwwAuth(r), 'Bearer scope="api:read"');
    assert.match(r.headers['content-type'], /problem\+json/);
    const res = await getToken(as1, { aud: 'https://api.example.test/', scope: 'api:read' });
    r = await request(px.restUrl, '/things', { headers: { authorization: `Bearer ${res}` } });
    assert.equal(r.status, 401, 'the resource is not the audience when `audience` is set');
    const noscope = await getToken(as1, { aud: 'api://capproxy', scope: 'tools:read' });
    r = await request(px.restUrl, '/things', { headers: { authorization: `Bearer ${noscope}` } });
    assert.equal(r.status, 403);
    assert.equal(r.json.detail, "the token lacks scope 'api:read'");
  });

  for (const sdk of SDKS) {
    test(`SDK ${sdk} client with the token in its headers lists and calls tools; the token stays here`, async () => {
      const t = await getToken(as1, { aud: `${mcp}/mcp/secure` });
      const c = await connectHttp(`${mcp}/mcp/secure`, { headers: { Authorization: `Bearer ${t}` }, sdk });
      try {
        const tools = await listAllTools(c.client);
        assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'hello']);
        const res = await callTool(c.client, 'hello', {});
        assert.equal(res.isError, undefined, showResult(res));
        assert.deepEqual(res.structuredContent, { message: 'hello from a protected tool' });
        const before = up.requests.length;
        const e = await callTool(c.client, 'echo', {});
        assert.ok(!e.isError, showResult(e));
        const sent = up.requests[before];
        assert.equal(sent.headers.authorization, undefined, 'the caller token never goes upstream');
      } finally {
        await closeClient(c);
      }
    });
  }

  test('introspection: the client authenticates, answers are cached, inactive tokens get 401', async () => {
    const t = await getToken(as1, { aud: `${mcp}/mcp/intro` });
    const n0 = introspections.length;
    for (let i = 0; i < 3; i++) {
      const r = await rpc(px, initMsg(), { path: '/mcp/intro', headers: { authorization: `Bearer ${t}` } });
      assert.equal(r.status, 200, r.text);
    }
    const mine = introspections.slice(n0);
    /* Each worker loop has its own cache: at most one question per worker (2). */
    assert.ok(mine.length >= 1 && mine.length <= 2, `${mine.length} introspections`);
    assert.equal(mine[0].body.token, t);
    assert.equal(mine[0].body.token_type_hint, 'access_token');
    const gone = await getToken(as1, { aud: `${mcp}/mcp/intro` });
    revoked.add(gone);
    const r = await rpc(px, initMsg(), { path: '/mcp/intro', headers: { authorization: `Bearer ${gone}` } });
    assert.equal(r.status, 401, r.text);
    assert.match(r.msg.error.message, /not active/);
    const noscope = await getToken(as1, { aud: `${mcp}/mcp/intro`, scope: 'other' });
    const r2 = await rpc(px, initMsg(), { path: '/mcp/intro', headers: { authorization: `Bearer ${noscope}` } });
    assert.equal(r2.status, 403, r2.text);
  });

  test('key rotation: a token signed by a new key is accepted after one refresh', async () => {
    const old = await getToken(as2, { aud: `${mcp}/mcp/rotating` });
    let r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${old}` } });
    assert.equal(r.status, 200, r.text);
    const key = await as2.issuer.keys.generate('ES256');
    await sleep(1100); /* keysMinRefresh: 1s in the test configuration */
    const fresh = await getToken(as2, { aud: `${mcp}/mcp/rotating`, kid: key.kid });
    for (let i = 0; i < 2; i++) {
      /* Two requests: each worker loop refreshes its own keys. */
      r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${fresh}` } });
      assert.equal(r.status, 200, r.text);
    }
  });

  test('authorization server down: cached keys still serve; an unknown kid is 401, not a hang', async () => {
    const ok = await getToken(as2, { aud: `${mcp}/mcp/rotating` });
    const key = await as2.issuer.keys.generate('RS256');
    const unknown = await getToken(as2, { aud: `${mcp}/mcp/rotating`, kid: key.kid });
    await as2.stop();
    await sleep(1100);
    let r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${ok}` } });
    assert.equal(r.status, 200, r.text);
    const t0 = Date.now();
    r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${unknown}` } });
    assert.equal(r.status, 401, r.text);
    assert.ok(Date.now() - t0 < 3000);
  });
});

describe('oauth2: an authorization server that cannot be reached', () => {
  let px, dir;
  after(async () => {
    const r = px && (await px.stop());
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (r) assert.equal(sanitizerReport(r.lines), null);
  });

  test('503 with Retry-After, quickly, and no crash', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-oauth-'));
    const doc = fs
      .readFileSync(path.join(repoRoot, 'tests/data/oauth/oauth.yaml'), 'utf8')
      .replaceAll('__AS1__', dead)
      .replaceAll('__AS2__', dead)
      .replaceAll('__MCP__', 'http://127.0.0.1:9')
      .replaceAll('__UP__', dead);
    fs.writeFileSync(path.join(dir, 'oauth.yaml'), doc);
    px = await startProxy({ args: ['-c', 'tests/data/oauth/capproxy.yaml', path.join(dir, 'oauth.yaml')], env: { CPX_INTROSPECTION_SECRET: SECRET } });
    const r = await rpc(px, initMsg(), { path: '/mcp/secure', headers: { authorization: 'Bearer a.b.c' } });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers['retry-after'], '5');
    assert.match(r.msg.error.message, /^Service Unavailable: the authorization server could not be reached/);
    const rest = await request(px.restUrl, '/things', { headers: { authorization: 'Bearer a.b.c' } });
    assert.equal(rest.status, 503);
    await px.waitForLine(/oauth2: no authorization server metadata for http:\/\/127\.0\.0\.1:\d+ \(.*refused\)/);
  });
});

describe('oauth2: requests waiting for a key fetch', () => {
  let as, px, dir, mcp;
  const ctl = {};
  before(async () => {
    as = await startAs1(ctl);
    await as.issuer.keys.generate('RS256');
    const port = await freePort();
    mcp = `http://127.0.0.1:${port}`;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-oauth-'));
    const doc = fs
      .readFileSync(path.join(repoRoot, 'tests/data/oauth/oauth.yaml'), 'utf8')
      .replaceAll('__AS1__', as.url)
      .replaceAll('__AS2__', as.url)
      .replaceAll('__MCP__', mcp)
      .replaceAll('__UP__', as.url);
    fs.writeFileSync(path.join(dir, 'oauth.yaml'), doc);
    px = await startProxy({
      args: ['-c', 'tests/data/oauth/capproxy.yaml', path.join(dir, 'oauth.yaml')],
      env: { CAPPROXY_MCP_LISTEN: `127.0.0.1:${port}`, CAPPROXY_WORKERS: '1', CAPPROXY_LOG_LEVEL: 'debug', CPX_INTROSPECTION_SECRET: SECRET },
    });
  });
  after(async () => {
    const r = px && (await px.stop());
    await as?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (r) assert.equal(sanitizerReport(r.lines), null);
  });

  test('one slow fetch serves every waiting request; a client that hangs up meanwhile is dropped', async () => {
    const first = await getToken(as, { aud: `${mcp}/mcp/rotating` });
    let r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${first}` } });
    assert.equal(r.status, 200, r.text); /* the keys of the start-up fetch */
    const key = await as.issuer.keys.generate('ES256');
    const fresh = await getToken(as, { aud: `${mcp}/mcp/rotating`, kid: key.kid });
    await sleep(1100);
    ctl.jwksDelayMs = 800;
    const n0 = ctl.jwksRequests;
    const body = JSON.stringify(initMsg());
    const raw =
      `POST /mcp/rotating HTTP/1.1\r\nHost: 127.0.0.1:${new URL(mcp).port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nAuthorization: Bearer ${fresh}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const gone = hangUp(Number(new URL(mcp).port), raw, { afterMs: 200 });
    const t0 = Date.now();
    const all = await Promise.all(
      [0, 1, 2, 3, 4].map(() => rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${fresh}` } })),
    );
    await gone;
    for (const a of all) assert.equal(a.status, 200, a.text);
    await px.waitForLine(/oauth2: a client waiting for the authorization server went away/);
    assert.ok(Date.now() - t0 >= 700, 'they waited for the fetch');
    assert.equal(ctl.jwksRequests - n0, 1, 'one key fetch for all of them');
    ctl.jwksDelayMs = 0;
    r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${fresh}` } });
    assert.equal(r.status, 200, r.text);
  });

  test('a fetch slower than fetchTimeout: the waiting request gets 401 for its unknown kid, in time', async () => {
    const key = await as.issuer.keys.generate('RS256');
    const t = await getToken(as, { aud: `${mcp}/mcp/rotating`, kid: key.kid });
    await sleep(1100);
    ctl.jwksDelayMs = 4000; /* fetchTimeout: 2s */
    const t0 = Date.now();
    const r = await rpc(px, initMsg(), { path: '/mcp/rotating', headers: { authorization: `Bearer ${t}` } });
    const took = Date.now() - t0;
    ctl.jwksDelayMs = 0;
    assert.equal(r.status, 401, r.text); /* the old keys are kept; none has that kid */
    assert.ok(took >= 1800 && took < 3500, `${took} ms`);
    await px.waitForLine(/oauth2: .*jwks: no answer in time \(keeping the keys fetched before\)/);
  });
});
