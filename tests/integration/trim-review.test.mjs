// The REST hot path's stack copies (issue 13 "trim"): path variables with nothing to decode are
// copied to a 512-byte buffer on rest_serve's stack, others (and what does not fit) to the heap.
// Values at, across and past that buffer's end, alone and together, must reach the upstream
// byte for byte. Run: cd tests/integration && node --test trim-review.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy } from './capproxy.mjs';
import { request } from './client.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const T = { timeout: 30_000 * SCALE };

describe('REST: long path variables (the stack buffer and its heap fallback)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: 'sk-trim-review-secret' } });
  });
  after(async () => {
    if (px && !px.exited) await px.stop().catch(() => {});
    await up?.close();
  });
  beforeEach(() => up.reset());

  // clientId is a string, userId a number (digits only, under 64 of them).
  const id = (n, c = 'c') => Array.from({ length: n }, (_, i) => String.fromCharCode(c.charCodeAt(0) + (i % 20))).join('');
  const cases = [
    ['both short', id(8), '42'],
    ['clientId of 510: both fit (510+1 and 2+1 bytes)', id(510), '7'],
    ['clientId of 511: the buffer full, userId on the heap', id(511), '123456789'],
    ['clientId of 512: on the heap, userId on the stack', id(512), '99'],
    ['clientId of 600 and a 40-digit userId', id(600), '1234567890123456789012345678901234567890'],
    ['clientId of 500, then a userId that no longer fits (20 digits)', id(500), '12345678901234567890'],
  ];
  for (const [name, c, u] of cases) {
    test(name, T, async () => {
      const r = await request(px.restUrl, `/v1/v2/oauth-clients/${c}/users/${u}`);
      assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(up.requests.length, 1);
      assert.equal(up.requests[0].path, `/v2/oauth-clients/${c}/users/${u}`);
    });
  }

  test('a percent-encoded value next to plain ones (heap, then stack)', T, async () => {
    const c = `${id(300)}%41${id(300)}`;
    const r = await request(px.restUrl, `/v1/v2/oauth-clients/${c}/users/5`);
    assert.equal(r.status, 200, `${r.status} ${r.text.slice(0, 300)}`);
    assert.equal(up.requests[0].path, `/v2/oauth-clients/${id(300)}A${id(300)}/users/5`);
  });

  test('many requests with values of every length from 480 to 530 in a row', T, async () => {
    for (let n = 480; n <= 530; n++) {
      up.reset();
      const c = id(n, 'A');
      const u = String(n).repeat(3);
      const r = await request(px.restUrl, `/v1/v2/oauth-clients/${c}/users/${u}`);
      assert.equal(r.status, 200, `n=${n}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(up.requests[0].path, `/v2/oauth-clients/${c}/users/${u}`, `n=${n}`);
    }
  });
});
