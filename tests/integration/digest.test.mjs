// Digest authentication (RFC 7616) on exposed adapters (issue 11 item 5): a REST and an MCP
// adapter of tests/data/digest/digest.yaml, answered by curl --digest (a real client: Node has
// none built in, and the MCP SDK clients do not do digest) and by answers computed here with
// node:crypto (an implementation independent of capproxy's libcrypto) where curl cannot be
// steered: MD5, stale, forged and misdirected answers.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';

import { startProxy } from './capproxy.mjs';
import { startUpstream } from './upstream.mjs';
import { request } from './client.mjs';
import { rpc, initMsg, req, show, sleep, SCALE } from './mcp-helpers.mjs';

const USER = 'alice';
const PASS = 's3cret pass';
const ARGS = ['-c', 'tests/data/digest/capproxy.yaml', 'tests/data/digest/digest.yaml'];
const ENV = { CPX_DIGEST_USER: USER, CPX_DIGEST_PASS: PASS };
const T = { timeout: 30_000 * SCALE };

/** Run curl; resolves {status, headers (lowercased, arrays), body} of the last response. */
function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-S', '-D', '-', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl ${args.join(' ')}: ${err.message} ${stderr}`));
      // -D - prints every response's head (the 401 challenge, then the answer): keep the last.
      const parts = stdout.split(/\r\n\r\n/);
      let i = 0;
      const heads = [];
      while (i < parts.length && /^HTTP\/\d/.test(parts[i])) heads.push(parts[i++]);
      const last = heads[heads.length - 1] || '';
      const lines = last.split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const k = l.slice(0, l.indexOf(':')).toLowerCase();
        (headers[k] ||= []).push(l.slice(l.indexOf(':') + 1).trim());
      }
      resolve({ status, headers, body: parts.slice(i).join('\r\n\r\n'), heads: heads.length });
    });
  });
}

/** The WWW-Authenticate values of a response, in order. */
function challenges(r) {
  const out = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (/^www-authenticate$/i.test(r.rawHeaders[i])) out.push(r.rawHeaders[i + 1]);
  return out;
}

/** {realm, nonce, ...} of one challenge. */
function params(ch) {
  const p = {};
  for (const m of ch.replace(/^Digest\s+/i, '').matchAll(/([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
  return p;
}

const CHALLENGE = (alg) => new RegExp(`^Digest realm="capproxy", qop="auth", algorithm=${alg}, nonce="[A-Za-z0-9_-]{48}", opaque="[0-9a-f]{32}"(, stale=true)?$`);

/** An Authorization value answering challenge <ch> as RFC 7616 section 3.4.1 says. */
function answer(ch, { method = 'GET', uri, user = USER, pass = PASS, alg, nonce } = {}) {
  const p = params(ch);
  const algorithm = alg || p.algorithm;
  const H = (s) => crypto.createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const n = nonce || p.nonce;
  const cnonce = crypto.randomBytes(8).toString('hex');
  const ha1 = H(`${user}:${p.realm}:${pass}`);
  const response = H(`${ha1}:${n}:00000001:${cnonce}:auth:${H(`${method}:${uri}`)}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${n}", uri="${uri}", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${p.opaque}"`;
}

describe('digest: a REST adapter', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ARGS, env: { ...ENV, CAPPROXY_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('no credentials: 401 with two challenges, SHA-256 first, then MD5, same nonce; nothing upstream', T, async () => {
    const r = await request(px.restUrl, '/things/1');
    assert.equal(r.status, 401, r.text);
    assert.match(r.headers['content-type'], /application\/problem\+json/);
    const ch = challenges(r);
    assert.equal(ch.length, 2, ch.join(' | '));
    assert.match(ch[0], CHALLENGE('SHA-256'));
    assert.match(ch[1], CHALLENGE('MD5'));
    assert.ok(!/stale/.test(ch.join()), 'a first challenge is not stale');
    assert.equal(params(ch[0]).nonce, params(ch[1]).nonce);
    const again = challenges(await request(px.restUrl, '/things/1'));
    assert.notEqual(params(again[0]).nonce, params(ch[0]).nonce, 'every challenge has a fresh nonce');
    assert.equal(up.requests.length, 0);
  });

  test('curl --digest with the right password: 200, and the Authorization header stays here', T, async () => {
    up.handle(() => ({ status: 200, body: { id: 1, name: 'one' } }));
    const r = await curl(['--digest', '-u', `${USER}:${PASS}`, `${px.restUrl}/things/1`]);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.heads, 2, 'a challenge, then the answer');
    assert.deepEqual(JSON.parse(r.body), { id: 1, name: 'one' });
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].path, '/things/1');
    assert.equal(up.requests[0].headers.authorization, undefined, 'the digest answer never travels upstream');
    // a PUT: the method is part of the answer
    const p = await curl(['--digest', '-u', `${USER}:${PASS}`, '-X', 'PUT', `${px.restUrl}/things/2`]);
    assert.equal(p.status, 200, p.body);
  });

  test('curl --digest with a wrong password or user: 401 with new challenges', T, async () => {
    for (const u of [`${USER}:wrong`, `bob:${PASS}`, `${USER}:${PASS.toUpperCase()}`]) {
      const r = await curl(['--digest', '-u', u, `${px.restUrl}/things/1`]);
      assert.equal(r.status, 401, `${u}: ${r.body}`);
      assert.equal(r.headers['www-authenticate'].length, 2);
      assert.ok(!r.headers['www-authenticate'].some((v) => /stale/.test(v)), 'a wrong password is not stale');
    }
    assert.equal(up.requests.length, 0);
  });

  test('MD5 and SHA-256 answers computed with node:crypto pass; the hex is case-insensitive', T, async () => {
    for (const alg of ['MD5', 'SHA-256']) {
      const ch = challenges(await request(px.restUrl, '/things/7?'));
      const r = await request(px.restUrl, '/things/7', { headers: { authorization: answer(ch[alg === 'MD5' ? 1 : 0], { uri: '/things/7' }) } });
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
    }
    const ch = challenges(await request(px.restUrl, '/things/7'));
    const a = answer(ch[1], { uri: '/things/7' }).replace(/response="([0-9a-f]+)"/, (m, h) => `response="${h.toUpperCase()}"`);
    assert.equal((await request(px.restUrl, '/things/7', { headers: { authorization: a } })).status, 200);
  });

  test('refused: another target, another method, a forged nonce, no qop, -sess: 401 not stale', T, async () => {
    const ch = challenges(await request(px.restUrl, '/things/1'))[0];
    const n = params(ch).nonce;
    const forged = n.slice(0, 30) + (n[30] === 'A' ? 'B' : 'A') + n.slice(31);
    const cases = {
      'answer for /things/2 sent to /things/1': answer(ch, { uri: '/things/2' }),
      'answer for PUT sent with GET': answer(ch, { uri: '/things/1', method: 'PUT' }),
      'forged nonce': answer(ch, { uri: '/things/1', nonce: forged }),
      'no qop (RFC 2069)': answer(ch, { uri: '/things/1' }).replace(', qop=auth', ''),
      'SHA-256-sess': answer(ch, { uri: '/things/1' }).replace('algorithm=SHA-256', 'algorithm=SHA-256-sess'),
      malformed: 'Digest username="alice',
      'another scheme': 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64'),
    };
    for (const [what, authz] of Object.entries(cases)) {
      const r = await request(px.restUrl, '/things/1', { headers: { authorization: authz } });
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      const c = challenges(r);
      assert.equal(c.length, 2, what);
      assert.ok(!c.some((v) => /stale/.test(v)), `${what}: not stale`);
    }
    assert.equal(up.requests.length, 0);
  });

  test('the log holds neither the Authorization header nor the password', T, async () => {
    await curl(['--digest', '-u', `${USER}:${PASS}`, `${px.restUrl}/things/1`]);
    await curl(['--digest', '-u', `${USER}:nope`, `${px.restUrl}/things/1`]);
    const log = px.stderr();
    assert.match(log, /digest authentication failed: wrong/, 'the reason is logged (debug)');
    assert.ok(!/Digest username|response=|s3cret/.test(log), 'no credential in the log');
  });
});

describe('digest: nonces expire (limits.digestNonceTtl)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ARGS, env: { ...ENV, CAPPROXY_DIGEST_NONCE_TTL: '2s' } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  test('a right answer to an expired nonce: 401 stale=true; a wrong one: not stale; the new nonce works', T, async () => {
    const ch = challenges(await request(px.restUrl, '/things/3'));
    const right = answer(ch[0], { uri: '/things/3' });
    const wrong = answer(ch[0], { uri: '/things/3', pass: 'nope' });
    assert.equal((await request(px.restUrl, '/things/3', { headers: { authorization: right } })).status, 200);
    await sleep(3100);
    const r = await request(px.restUrl, '/things/3', { headers: { authorization: right } });
    assert.equal(r.status, 401, r.text);
    const c = challenges(r);
    assert.equal(c.length, 2);
    assert.match(c[0], CHALLENGE('SHA-256'));
    assert.match(c[0], /, stale=true$/);
    assert.match(c[1], /, stale=true$/);
    const w = challenges(await request(px.restUrl, '/things/3', { headers: { authorization: wrong } }));
    assert.ok(!w.some((v) => /stale/.test(v)), 'only the right password learns that the nonce is stale');
    const again = await request(px.restUrl, '/things/3', { headers: { authorization: answer(c[1], { uri: '/things/3' }) } });
    assert.equal(again.status, 200, again.text);
  });
});

describe('digest: an MCP adapter (raw HTTP with curl: the SDK clients do not do digest)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ARGS, env: ENV });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  test('initialize without credentials: 401 with both challenges', T, async () => {
    const r = await rpc(px, initMsg());
    assert.equal(r.status, 401, show(r));
    const ch = challenges(r);
    assert.equal(ch.length, 2);
    assert.match(ch[0], CHALLENGE('SHA-256'));
    assert.match(ch[1], CHALLENGE('MD5'));
  });

  test('curl --digest: initialize, then tools/call reaches the upstream without the Authorization header', T, async () => {
    up.handle(() => ({ status: 200, body: { id: 5, name: 'five' } }));
    const base = ['--digest', '-u', `${USER}:${PASS}`, '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream'];
    const init = await curl([...base, '--data-binary', JSON.stringify(initMsg()), `${px.mcpUrl}/mcp`]);
    assert.equal(init.status, 200, init.body);
    const session = init.headers['mcp-session-id']?.[0];
    assert.ok(session, 'a session id');
    const sh = ['-H', `mcp-session-id: ${session}`, '-H', 'mcp-protocol-version: 2025-11-25'];
    const note = await curl([...base, ...sh, '--data-binary', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), `${px.mcpUrl}/mcp`]);
    assert.equal(note.status, 202, note.body);
    const call = await curl([...base, ...sh, '--data-binary', JSON.stringify(req('tools/call', { name: 'get-thing', arguments: { id: '5' } })), `${px.mcpUrl}/mcp`]);
    assert.equal(call.status, 200, call.body);
    assert.match(call.body, /five/);
    assert.equal(up.requests.length, 1);
    assert.equal(up.requests[0].path, '/things/5');
    assert.equal(up.requests[0].headers.authorization, undefined);
    const bad = await curl([...base.slice(0, 2), `${USER}:wrong`, ...base.slice(3), '--data-binary', JSON.stringify(initMsg()), `${px.mcpUrl}/mcp`]);
    assert.equal(bad.status, 401, bad.body);
  });
});
