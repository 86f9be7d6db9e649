// Start-up memory choices (issue 13, idle RSS): capproxy keeps GnuTLS, which libcurl's
// dependencies load, from initialising itself (src/app/procmem.c), and does not load libm at
// all (base/fnum.h). Both are checked by their effect on the running process; the RSS figure
// itself is bench/run.sh's (it depends on the machine's libraries).
// Run: cd tests/integration && node --test procmem.test.mjs

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';

const SECRET = 'sk-capproxy-PROCMEM-5e6f7a8b9c0d';
const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };

// The shared objects mapped into <pid>, by file name.
function mappedLibs(pid) {
  const names = new Set();
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /\/([^/\s]+\.so[.\d]*)$/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

describe('procmem: what capproxy does not load or initialise', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    // GnuTLS's global initialisation, when it runs, logs to stderr at this level
    // ("gnutls[2]: Enabled GnuTLS ... logging"): the way to see whether it ran.
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SECRET, GNUTLS_DEBUG_LEVEL: '2' } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });

  test('a proxied request works (the start-up allocator settings are restored)', T, async () => {
    for (let i = 0; i < 20; i++) {
      const r = await request(px.restUrl, `/v1/v2/oauth-clients/pm/users/${i}`);
      assert.equal(r.status, 200, r.text);
    }
  });

  test('GnuTLS is not initialised: no GnuTLS log line even with GNUTLS_DEBUG_LEVEL set', T, async () => {
    const libs = mappedLibs(px.pid);
    if (![...libs].some((n) => n.startsWith('libgnutls.so'))) return; // a libcurl without it
    assert.ok(!px.lines.some((l) => /^gnutls\[\d+\]/.test(l)), px.stderr());
  });

  test('libm is not mapped (floor and ceil come from base/fnum.h)', T, (t) => {
    if (!fs.readlinkSync(`/proc/${px.pid}/exe`).endsWith('/capproxy')) return; // under a wrapper
    const libs = [...mappedLibs(px.pid)];
    // A sanitizer build (scripts/test.sh runs every file under one): libasan and libubsan
    // need libm themselves, whatever capproxy calls.
    if (libs.some((n) => /^lib(asan|ubsan|tsan|lsan)\.so/.test(n))) {
      t.skip('sanitizer runtime loaded: it maps libm itself');
      return;
    }
    assert.ok(!libs.some((n) => /^libm\.so/.test(n)), libs.join(' '));
  });
});
