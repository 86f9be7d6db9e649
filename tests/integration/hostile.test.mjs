// Runs every row of the tables in tests/hostile/*.mjs (see tests/hostile/README.md) against the
// real binary: exact bytes on a raw socket, the answer checked, and what reached the upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startProxy, repoRoot } from './capproxy.mjs';
import { startUpstream } from './upstream.mjs';
import { parseResponse } from './client.mjs';
import { openSession, SCALE } from './mcp-helpers.mjs';

const dir = path.join(repoRoot, 'tests', 'hostile');
const tables = [];
for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.mjs')).sort()) {
  const mod = await import(pathToFileURL(path.join(dir, f)).href);
  tables.push({ file: f, rows: mod.default });
}

/** Interim (1xx) responses at the front of <buf>: their statuses, and the bytes after them. */
function splitInterim(buf) {
  const interim = [];
  for (;;) {
    const m = /^HTTP\/1\.[01] (1\d\d)/.exec(buf.subarray(0, 16).toString('latin1'));
    const end = buf.indexOf('\r\n\r\n');
    if (!m || end < 0) return { interim, rest: buf };
    interim.push(Number(m[1]));
    buf = buf.subarray(end + 4);
  }
}

/** Send the row's bytes (or timed chunks); resolve {status, headers, text, json, closed, ms, interim}. */
function exchange(port, row, ctx) {
  const timeoutMs = (row.timeoutMs ?? 5000) * SCALE;
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    let done = false;
    let closed = false;
    const timers = [];
    const finish = (why) => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      const { interim, rest } = splitInterim(buf);
      const p = parseResponse(rest);
      let json = null;
      try {
        json = p.text ? JSON.parse(p.text) : null;
      } catch {
        json = null;
      }
      const res = { ...p, json, interim, closed, timedOut: why === 'timeout', ms: Date.now() - t0 };
      // after a complete answer, wait briefly to see whether the server closes
      if (why === 'complete' && row.expect && row.expect.closed !== undefined) {
        const t = setTimeout(() => {
          sock.destroy();
          resolve(res);
        }, 300 * SCALE);
        sock.once('close', () => {
          clearTimeout(t);
          res.closed = true;
          resolve(res);
        });
        return;
      }
      sock.destroy();
      resolve(res);
    };
    timers.push(setTimeout(() => finish('timeout'), timeoutMs));
    sock.on('connect', () => {
      if (row.chunks) {
        let at = 0;
        for (const c of row.chunks) {
          at += c.delayMs || 0;
          timers.push(
            setTimeout(() => {
              if (!done && !sock.destroyed) sock.write(typeof c.bytes === 'function' ? c.bytes(ctx) : c.bytes, 'latin1');
            }, at),
          );
        }
      } else {
        const bytes = typeof row.raw === 'function' ? row.raw(ctx) : row.raw;
        sock.write(bytes, typeof bytes === 'string' ? 'latin1' : undefined);
      }
    });
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      if (parseResponse(splitInterim(buf).rest).complete) finish('complete');
    });
    sock.on('end', () => {
      closed = true;
      finish('close');
    });
    sock.on('close', () => {
      closed = true;
      finish('close');
    });
    sock.on('error', () => {
      closed = true;
      finish('close');
    });
  });
}

function check(row, res, records) {
  const e = row.expect || {};
  const show = `${res.status} ${res.rawText ? res.rawText.slice(0, 400) : ''}`;
  if (e.interim !== undefined) assert.deepEqual(res.interim, e.interim, `interim responses: ${show}`);
  if (e.status === null) assert.equal(res.status, null, `expected no response, got ${show}`);
  else if (e.status !== undefined) assert.equal(res.status, e.status, `status: ${show}`);
  if (e.problem !== undefined) {
    assert.match(res.headers['content-type'] || '', /application\/problem\+json/, show);
    assert.ok(res.json, `problem body: ${show}`);
    const named = `${res.json.detail || ''} ${res.json.parameter || ''}`;
    if (e.problem instanceof RegExp) assert.match(named, e.problem);
    else assert.ok(named.toLowerCase().includes(String(e.problem).toLowerCase()), `problem must name ${e.problem}: ${named}`);
  }
  if (e.jsonrpc) {
    assert.ok(res.json, `JSON-RPC body: ${show}`);
    if (e.jsonrpc.code !== undefined) assert.equal(res.json.error && res.json.error.code, e.jsonrpc.code, show);
    if (e.jsonrpc.isError !== undefined) assert.equal(!!(res.json.result && res.json.result.isError), e.jsonrpc.isError, show);
    if (e.jsonrpc.text) {
      const text = ((res.json.result && res.json.result.content) || []).map((c) => c.text || '').join('\n');
      assert.match(text, e.jsonrpc.text, show);
    }
  }
  if (e.check) {
    // every reply must be JSON when it claims to be
    if (/json/.test(res.headers['content-type'] || '')) assert.ok(res.json, `the body must be valid JSON: ${show}`);
    e.check(res);
  }
  if (e.closed !== undefined) assert.equal(res.closed, e.closed, `connection ${e.closed ? 'not closed' : 'closed'}: ${show}`);
  if (e.withinMs !== undefined) assert.ok(res.ms <= e.withinMs * SCALE, `answered after ${res.ms} ms (limit ${e.withinMs})`);
  const up = row.upstream === undefined ? 0 : row.upstream;
  if (typeof up === 'function') up(records);
  else assert.equal(records.length, up, `upstream received ${records.length} request(s): ${records.map((r) => `${r.method} ${r.url}`).join(', ')}`);
}

// rows grouped by their env: one proxy per distinct env
const groups = new Map();
for (const t of tables) {
  for (const row of t.rows) {
    const key = JSON.stringify(row.env || {});
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ ...row, file: t.file });
  }
}

let upstream;
before(async () => {
  upstream = await startUpstream();
});
after(async () => {
  if (upstream) await upstream.close();
});

for (const [key, rows] of groups) {
  const env = JSON.parse(key);
  test(`hostile inputs${key === '{}' ? '' : ` with ${key}`}`, { timeout: 120_000 * SCALE }, async (t) => {
    const px = await startProxy({ upstream, env: { CAL_COM_CLIENT_SECRET: 'hostile-test-secret', ...env } });
    try {
      for (const row of rows) {
        await t.test(`${row.file}: ${row.name}`, async () => {
          const port = (row.port === 'mcp' ? px.mcp : px.rest).port;
          const ctx = { host: `127.0.0.1:${port}` };
          if (row.port === 'mcp') {
            const s = await openSession(px);
            ctx.session = s.session;
            ctx.mcpHeaders =
              `Host: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
              `Mcp-Session-Id: ${s.session}\r\nMCP-Protocol-Version: ${s.version}\r\n`;
          }
          upstream.reset();
          upstream.handle(row.handle || null);
          const res = await exchange(port, row, ctx);
          // let anything the proxy forwarded arrive before counting
          await new Promise((r) => setTimeout(r, 50 * SCALE));
          check(row, res, upstream.requests.slice());
        });
      }
      assert.equal(px.exited, null, 'capproxy must still run after every hostile input');
    } finally {
      await px.stop();
    }
  });
}
