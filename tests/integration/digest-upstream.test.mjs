// Digest authentication towards a consumed API (`consumes[].authentication: {type: digest}`):
// the recording upstream demands RFC 7616 digest (qop=auth, SHA-256 or MD5) and checks each
// answer with node:crypto; capproxy (through libcurl) must answer the challenge, over REST and
// MCP, with the credentials from binds, and never show them.
// Run: cd tests/integration && node --test digest-upstream.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { connectHttp, closeClient, callTool, showResult, SDKS, SCALE } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const DATA = path.join(repoRoot, 'tests', 'data', 'digest-upstream');
const USER = 'vault-reader';
const PASS = 'pa55-digest-7f31c0';
const REALM = 'vault';

function h(alg, s) {
  return crypto.createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
}

/** The Authorization: Digest parameters. */
function parseDigest(v) {
  const out = {};
  const re = /(\w+)=(?:"([^"]*)"|([^,\s]*))/g;
  let m;
  while ((m = re.exec(v.replace(/^Digest\s+/i, '')))) out[m[1].toLowerCase()] = m[2] ?? m[3];
  return out;
}

/** An upstream that demands digest with algorithm <alg> and answers a verified request. */
function digestUpstream(alg, password = PASS) {
  const nonce = crypto.randomBytes(12).toString('hex');
  return (rec) => {
    const auth = rec.headers.authorization;
    const challenge = { status: 401, headers: { 'www-authenticate': `Digest realm="${REALM}", qop="auth", algorithm=${alg}, nonce="${nonce}", opaque="op1"` }, body: { error: 'auth' } };
    if (!auth || !/^Digest /i.test(auth)) return challenge;
    const p = parseDigest(auth);
    const ha1 = h(alg, `${p.username}:${REALM}:${password}`);
    const ha2 = h(alg, `${rec.method}:${p.uri}`);
    const want = h(alg, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
    const ok = p.username === USER && p.nonce === nonce && p.qop === 'auth' && p.uri === rec.url && p.response === want;
    return ok ? { status: 200, body: { secret: 'shh', path: rec.path, body: rec.bodyText || null } } : challenge;
  };
}

describe('digest towards a consumed API', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({
      args: ['-c', path.join(DATA, 'capproxy.yaml'), path.join(DATA, 'vault.yaml')],
      env: { DIGEST_UP_BASE: up.url, DIGEST_UP_USER: USER, DIGEST_UP_PASS: PASS },
    });
  });
  after(async () => {
    const r = await px?.stop?.();
    await up?.close();
    assert.equal(r?.sanitizer ?? null, null, r?.sanitizer);
    assert.ok(!(r?.lines || []).join('\n').includes(PASS), 'the password is not logged');
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  for (const alg of ['SHA-256', 'MD5']) {
    test(`REST GET: capproxy answers the ${alg} challenge`, T, async () => {
      up.handle(digestUpstream(alg));
      const r = await request(px.restUrl, '/secrets/db');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { secret: 'shh', path: '/secrets/db', body: null });
      assert.equal(up.requests.length, 2, 'the challenge, then the answer');
      assert.equal(up.requests[0].headers.authorization, undefined);
      assert.match(up.requests[1].headers.authorization, /^Digest /);
      assert.ok(!up.requests[1].headers.authorization.includes(PASS));
    });
  }

  test('REST PUT with a body: the body goes with the authenticated request', T, async () => {
    up.handle(digestUpstream('SHA-256'));
    const r = await request(px.restUrl, '/secrets/db', { method: 'PUT', body: { value: 'v1' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.json.body), { value: 'v1' });
  });

  test('a wrong password: the API refuses, and its 401 is what the caller gets', T, async () => {
    up.handle(digestUpstream('SHA-256', 'another-password'));
    const r = await request(px.restUrl, '/secrets/db');
    assert.equal(r.status, 401, r.text);
    assert.ok(!r.text.includes(PASS));
  });

  for (const sdk of SDKS) {
    test(`MCP (SDK ${sdk}.x): the tool's upstream call answers the challenge`, T, async () => {
      up.handle(digestUpstream('SHA-256'));
      const c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
      try {
        const res = await callTool(c.client, 'get-secret', { name: 'api' });
        assert.ok(!res.isError, showResult(res));
        assert.deepEqual(res.structuredContent, { secret: 'shh', path: '/secrets/api', body: null });
      } finally {
        await closeClient(c);
      }
    });
  }
});

describe('digest credentials from a bind that is not set', () => {
  test('the call is refused with 401 before anything is sent', T, async () => {
    const up = await startUpstream();
    const px = await startProxy({
      args: ['-c', path.join(DATA, 'capproxy.yaml'), path.join(DATA, 'vault.yaml')],
      env: { DIGEST_UP_BASE: up.url, DIGEST_UP_USER: USER, DIGEST_UP_PASS: null },
    });
    try {
      const r = await request(px.restUrl, '/secrets/db');
      assert.equal(r.status, 401, r.text);
      assert.match(r.json.detail, /no digest credentials for consumes 'vault'/);
      assert.equal(up.requests.length, 0);
    } finally {
      await px.stop();
      await up.close();
    }
  });
});
