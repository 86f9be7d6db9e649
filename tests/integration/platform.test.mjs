// Integration tests for the 29 Cal.com platform operations (the cal_platform_* tools of seed 000):
// capabilities/cal-com-platform-*.yaml (7 documents) plus the seed capabilities/cal-com-managed-users.yaml,
// all loaded from capabilities/ as shipped, against a recording upstream stand-in on 127.0.0.1.
//
// - REST (/v1...): one test per operation: exact upstream method, path, query, credential header
//   (x-cal-secret-key for the 13 OAuth-client operations, Authorization: Bearer for the 15 others,
//   none for the Stripe callback; never x-cal-client-id), JSON body with its types, status passed
//   through. The 7 managed-users operations are REST routes of the seed (whole `body` object).
// - MCP (SDK client at /cal-platform): the 29 tool names, one test per tool with flat arguments.
// - Edge cases: Stripe 301 passed through and not followed, 498/429 with X-RateLimit-* headers,
//   delete-all with a string `data`, empty upstream bodies, missing required arguments.
// - `capproxy routes` and `capproxy validate`.
//
// Run: cd tests/integration && node --test platform.test.mjs   (CAPPROXY_BIN=build-asan/capproxy for ASan)

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy } from './capproxy.mjs';
import { request } from './client.mjs';
import { SCALE, sleep, withTimeout, connectHttp, closeClient, listAllTools, callTool, showResult } from './mcp-helpers.mjs';

// distinctive credential values: they must reach the upstream only in their own header
const SK = 'sk-PLATFORM-TEST-c0ffee5ecret-7d41a9b2e6f08c35';
const API_KEY = 'cal_PLATFORM-TEST-apikey-0b9e8d7c6a5f4e3d2c1b';
const CALLER_SK = 'caller-own-sk-platform-44e1';
const CALLER_TOKEN = 'caller-own-access-token-platform-9a7c';
const SECRETS = [SK, API_KEY];

const T = { timeout: 20_000 * SCALE };
const T_LONG = { timeout: 60_000 * SCALE };

// ---------------------------------------------------------------------------------------------
// the 29 operations
//
// tmpl: the upstream path template; pathParams / query / body: the inputs (MCP arguments are their
// union, flat); params: the seed's tool parameters (name:type, ! = required); seed: the REST route
// belongs to the seed document (cal-com-managed-users.yaml), whose body is the whole `body` object;
// status: what Cal.com answers on success (201 for creates); reply: a specific upstream answer.

const STATE = JSON.stringify({ accessToken: 'tok-in-state', returnTo: 'https://app.example.com/ok?x=1&y=2', onErrorReturnTo: 'https://app.example.com/err' });
const USER_FIELDS = 'avatarUrl:string bio:string defaultScheduleId:number email:string locale:string metadata:object name:string timeFormat:number timeZone:string weekStart:string';
const CLIENT_FIELDS = 'areCalendarEventsEnabled:boolean areDefaultEventTypesEnabled:boolean areEmailsEnabled:boolean bookingCancelRedirectUri:string bookingRedirectUri:string bookingRescheduleRedirectUri:string logo:string';
const HOOK_FIELDS = 'payloadTemplate:string secret:string version:string';

const OPS = [
  {
    tool: 'cal_platform_api_keys_controller_refresh', auth: 'bearer', method: 'POST', tmpl: '/v2/api-keys/refresh',
    params: 'apiKeyDaysValid:number apiKeyNeverExpires:boolean',
    body: { apiKeyNeverExpires: true },
    reply: { status: 'success', data: { apiKey: 'cal_new_key_after_refresh' } },
  },
  { tool: 'cal_platform_me_controller_get_me', auth: 'bearer', method: 'GET', tmpl: '/v2/me', params: '' },
  {
    tool: 'cal_platform_me_controller_update_me', auth: 'bearer', method: 'PATCH', tmpl: '/v2/me', params: USER_FIELDS,
    body: { name: 'Zoë Me', timeFormat: 24, defaultScheduleId: 17, weekStart: 'Monday', metadata: { plan: 'pro', seats: 3, beta: true, tags: ['a', 'b'] } },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_create_user', auth: 'sk', seed: true, status: 201,
    method: 'POST', tmpl: '/v2/oauth-clients/{clientId}/users',
    params: 'clientId:string! avatarUrl:string bio:string email:string! locale:string metadata:object name:string! timeFormat:number timeZone:string weekStart:string',
    pathParams: { clientId: 'cl-create-user' },
    body: {
      email: 'alice@example.com', name: 'Alice Ä 😀', timeFormat: 12, weekStart: 'Sunday', timeZone: 'Europe/Rome',
      locale: 'it', avatarUrl: 'https://img.example.com/a.png', bio: 'Bio "quoted"', metadata: { team: 'blue', n: 1 },
    },
    reply: {
      status: 'success',
      data: { user: { id: 501, email: 'alice+cl-create-user@example.com', name: 'Alice Ä 😀', timeFormat: 12 }, accessToken: 'at', refreshToken: 'rt', accessTokenExpiresAt: 1767225600000, refreshTokenExpiresAt: 1798761600000 },
    },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_delete_user', auth: 'sk', seed: true,
    method: 'DELETE', tmpl: '/v2/oauth-clients/{clientId}/users/{userId}',
    params: 'clientId:string! userId:number!', pathParams: { clientId: 'cl-del-user', userId: 502 },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_force_refresh', auth: 'sk', seed: true,
    method: 'POST', tmpl: '/v2/oauth-clients/{clientId}/users/{userId}/force-refresh',
    params: 'userId:number! clientId:string!', pathParams: { clientId: 'cl-force', userId: 503 },
    reply: { status: 'success', data: { accessToken: 'at2', refreshToken: 'rt2', accessTokenExpiresAt: 1767225600000, refreshTokenExpiresAt: 1798761600000 } },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_get_managed_users', auth: 'sk', seed: true,
    method: 'GET', tmpl: '/v2/oauth-clients/{clientId}/users',
    params: 'clientId:string! limit:number offset:number emails:array',
    pathParams: { clientId: 'cl-list-users' },
    query: { limit: 10, offset: 20, emails: ['a@example.com', 'b@example.com'] },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_get_user_by_id', auth: 'sk', seed: true,
    method: 'GET', tmpl: '/v2/oauth-clients/{clientId}/users/{userId}',
    params: 'clientId:string! userId:number!', pathParams: { clientId: 'cl-get-user', userId: 504 },
  },
  {
    tool: 'cal_platform_oauth_client_users_controller_update_user', auth: 'sk', seed: true,
    method: 'PATCH', tmpl: '/v2/oauth-clients/{clientId}/users/{userId}',
    params: `clientId:string! userId:number! ${USER_FIELDS}`, pathParams: { clientId: 'cl-upd-user', userId: 505 },
    body: { name: 'Bob', timeFormat: 24, defaultScheduleId: 7, timeZone: 'America/New_York', metadata: { k: 'v', nested: { deep: [1, 2.5] } } },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_create_oauth_client_webhook', auth: 'sk', status: 201,
    method: 'POST', tmpl: '/v2/oauth-clients/{clientId}/webhooks',
    params: `clientId:string! active:boolean! subscriberUrl:string! triggers:array! ${HOOK_FIELDS}`,
    pathParams: { clientId: 'cl-new-hook' },
    body: {
      active: true, subscriberUrl: 'https://hooks.example.com/cal', triggers: ['BOOKING_CREATED', 'BOOKING_CANCELLED'],
      payloadTemplate: '{"type":"{{type}}","title":"{{title}}"}', secret: 'whsec_1', version: '2021-10-20',
    },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_delete_all_oauth_client_webhooks', auth: 'sk',
    method: 'DELETE', tmpl: '/v2/oauth-clients/{clientId}/webhooks',
    params: 'clientId:string!', pathParams: { clientId: 'cl-del-all-hooks' },
    reply: { status: 'success', data: '2 webhooks deleted' },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_delete_oauth_client_webhook', auth: 'sk',
    method: 'DELETE', tmpl: '/v2/oauth-clients/{clientId}/webhooks/{webhookId}',
    params: 'webhookId:string! clientId:string!', pathParams: { clientId: 'cl-del-hook', webhookId: 'wh-601' },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_get_oauth_client_webhook', auth: 'sk',
    method: 'GET', tmpl: '/v2/oauth-clients/{clientId}/webhooks/{webhookId}',
    params: 'webhookId:string! clientId:string!', pathParams: { clientId: 'cl-get-hook', webhookId: 'wh-602' },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_get_oauth_client_webhooks', auth: 'sk',
    method: 'GET', tmpl: '/v2/oauth-clients/{clientId}/webhooks',
    params: 'clientId:string! take:number skip:number', pathParams: { clientId: 'cl-list-hooks' }, query: { take: 5, skip: 10 },
  },
  {
    tool: 'cal_platform_oauth_client_webhooks_controller_update_oauth_client_webhook', auth: 'sk',
    method: 'PATCH', tmpl: '/v2/oauth-clients/{clientId}/webhooks/{webhookId}',
    params: `webhookId:string! clientId:string! active:boolean subscriberUrl:string triggers:array ${HOOK_FIELDS}`,
    pathParams: { clientId: 'cl-upd-hook', webhookId: 'wh-603' },
    body: { active: false, triggers: ['MEETING_ENDED'] },
  },
  {
    tool: 'cal_platform_oauth_clients_controller_create_oauth_client', auth: 'bearer', status: 201,
    method: 'POST', tmpl: '/v2/oauth-clients',
    params: `${CLIENT_FIELDS} name:string! permissions:array! redirectUris:array!`,
    body: {
      name: 'Acme Platform', redirectUris: ['https://acme.example.com/cb', 'http://localhost:3000/cb'], permissions: ['BOOKING_READ', 'BOOKING_WRITE'],
      logo: 'https://acme.example.com/logo.png', bookingRedirectUri: 'https://acme.example.com/booked',
      areEmailsEnabled: true, areDefaultEventTypesEnabled: false, areCalendarEventsEnabled: true,
    },
    reply: { status: 'success', data: { clientId: 'cl-new', clientSecret: 'new-client-secret' } },
  },
  {
    tool: 'cal_platform_oauth_clients_controller_delete_oauth_client', auth: 'bearer',
    method: 'DELETE', tmpl: '/v2/oauth-clients/{clientId}', params: 'clientId:string!', pathParams: { clientId: 'cl-del-client' },
  },
  {
    tool: 'cal_platform_oauth_clients_controller_get_oauth_client_by_id', auth: 'bearer',
    method: 'GET', tmpl: '/v2/oauth-clients/{clientId}', params: 'clientId:string!', pathParams: { clientId: 'cl-get-client' },
  },
  { tool: 'cal_platform_oauth_clients_controller_get_oauth_clients', auth: 'bearer', method: 'GET', tmpl: '/v2/oauth-clients', params: '' },
  {
    tool: 'cal_platform_oauth_clients_controller_update_oauth_client', auth: 'bearer',
    method: 'PATCH', tmpl: '/v2/oauth-clients/{clientId}',
    params: `clientId:string! ${CLIENT_FIELDS} name:string redirectUris:array`, pathParams: { clientId: 'cl-upd-client' },
    body: { name: 'Acme 2', redirectUris: ['https://acme.example.com/cb2'], areCalendarEventsEnabled: false },
  },
  {
    tool: 'cal_platform_oauth_flow_controller_refresh_tokens', auth: 'sk', seed: true,
    method: 'POST', tmpl: '/v2/oauth/{clientId}/refresh',
    params: 'clientId:string! refreshToken:string!', pathParams: { clientId: 'cl-refresh' },
    body: { refreshToken: 'rt_0123456789abcdef' },
  },
  {
    tool: 'cal_platform_stripe_controller_check', auth: 'bearer', method: 'GET', tmpl: '/v2/stripe/check', params: '',
    reply: { status: 'success' }, // no data (the one exception to the envelope)
  },
  {
    tool: 'cal_platform_stripe_controller_redirect', auth: 'bearer', method: 'GET', tmpl: '/v2/stripe/connect', params: '',
    reply: { status: 'success', data: { authUrl: 'https://connect.stripe.com/oauth/v2/authorize?client_id=ca_1&state=abc' } },
  },
  {
    tool: 'cal_platform_stripe_controller_save', auth: 'none', method: 'GET', tmpl: '/v2/stripe/save',
    params: 'state:string! code:string!', query: { state: STATE, code: 'ac_123+/=' },
    reply: { url: 'https://app.example.com/ok?x=1&y=2' },
  },
  {
    tool: 'cal_platform_webhooks_controller_create_webhook', auth: 'bearer', status: 201, method: 'POST', tmpl: '/v2/webhooks',
    params: `active:boolean! subscriberUrl:string! triggers:array! ${HOOK_FIELDS}`,
    body: { active: true, subscriberUrl: 'https://hooks.example.com/me', triggers: ['BOOKING_CREATED'], secret: 'whsec_2' },
  },
  {
    tool: 'cal_platform_webhooks_controller_delete_webhook', auth: 'bearer', method: 'DELETE', tmpl: '/v2/webhooks/{webhookId}',
    params: 'webhookId:string!', pathParams: { webhookId: 'wh-701' },
  },
  {
    tool: 'cal_platform_webhooks_controller_get_webhook', auth: 'bearer', method: 'GET', tmpl: '/v2/webhooks/{webhookId}',
    params: 'webhookId:string!', pathParams: { webhookId: 'wh-702' },
  },
  {
    tool: 'cal_platform_webhooks_controller_get_webhooks', auth: 'bearer', method: 'GET', tmpl: '/v2/webhooks',
    params: 'take:number skip:number', query: { take: 3, skip: 0 },
  },
  {
    tool: 'cal_platform_webhooks_controller_update_webhook', auth: 'bearer', method: 'PATCH', tmpl: '/v2/webhooks/{webhookId}',
    params: `webhookId:string! active:boolean subscriberUrl:string triggers:array ${HOOK_FIELDS}`, pathParams: { webhookId: 'wh-703' },
    body: { subscriberUrl: 'https://new.example.com/h', secret: 's2', active: true },
  },
];
const TOOL_NAMES = OPS.map((o) => o.tool).sort();
const op = (suffix) => {
  const o = OPS.find((x) => x.tool === `cal_platform_${suffix}`);
  if (!o) throw new Error(`no operation cal_platform_${suffix}`);
  return o;
};

// the seed's 7 MCP tools and 7 REST routes
const SEED_TOOLS = ['get-all-managed-users', 'create-managed-user', 'get-managed-user', 'update-managed-user', 'delete-managed-user', 'force-refresh-tokens', 'refresh-managed-user-tokens'];
const SEED_ROUTES = [
  'GET /v1/v2/oauth-clients/{clientid}/users',
  'POST /v1/v2/oauth-clients/{clientid}/users',
  'GET /v1/v2/oauth-clients/{clientid}/users/{userid}',
  'PATCH /v1/v2/oauth-clients/{clientid}/users/{userid}',
  'DELETE /v1/v2/oauth-clients/{clientid}/users/{userid}',
  'POST /v1/v2/oauth-clients/{clientid}/users/{userid}/force-refresh',
  'POST /v1/v2/oauth/{clientid}/refresh',
];

// ---------------------------------------------------------------------------------------------
// derived request shapes

function upPath(o) {
  return o.tmpl.replace(/\{(\w+)\}/g, (_, n) => encodeURIComponent(String(o.pathParams[n])));
}
/** What the upstream must see as query: {name: [one value]}, arrays comma-joined. */
function upQuery(o) {
  const q = {};
  for (const [k, v] of Object.entries(o.query || {})) q[k] = [Array.isArray(v) ? v.join(',') : String(v)];
  return q;
}
/** The REST request target: /v1 + the upstream path + the query (arrays comma-separated). */
function restTarget(o) {
  const qs = Object.entries(o.query || {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.map(encodeURIComponent).join(',') : encodeURIComponent(String(v))}`)
    .join('&');
  return `/v1${upPath(o)}${qs ? `?${qs}` : ''}`;
}
/** The MCP arguments: path parameters, query parameters and body fields, flat. */
function toolArgs(o) {
  return { ...(o.pathParams || {}), ...(o.query || {}), ...(o.body || {}) };
}
function parseParams(spec) {
  const props = {};
  const required = [];
  for (const p of spec.split(/\s+/).filter(Boolean)) {
    const [name, t] = p.split(':');
    const req = t.endsWith('!');
    props[name] = req ? t.slice(0, -1) : t;
    if (req) required.push(name);
  }
  return { props, required };
}

// ---------------------------------------------------------------------------------------------
// helpers

function assertNoSecret(where, text) {
  for (const s of SECRETS) assert.ok(!String(text).includes(s), `a configured credential appears in ${where}: ${String(text).slice(0, 500)}`);
}

function describeRes(r) {
  return `${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 400)}`;
}

async function rest(px, target, opts = {}) {
  const r = await request(px.restUrl, target, { timeoutMs: 10_000 * SCALE, ...opts });
  assertNoSecret(`the response to ${opts.method || 'GET'} ${target}`, r.text + JSON.stringify(r.headers));
  return r;
}

function sendRest(px, o, extra = {}) {
  const opts = { method: o.method, ...extra };
  if (o.body !== undefined && !('body' in extra)) opts.body = o.body;
  return rest(px, restTarget(o), opts);
}

function headerCount(rec, name) {
  let n = 0;
  for (let i = 0; i < rec.rawHeaders.length; i += 2) if (rec.rawHeaders[i].toLowerCase() === name) n++;
  return n;
}

/** Nothing reached the upstream (give a stray request a moment to arrive). */
async function assertNothingUpstream(up, what, waitMs = 200) {
  await sleep(waitMs);
  assert.deepEqual(up.requests.map((r) => `${r.method} ${r.url}`), [], `nothing must reach the upstream for ${what}`);
}

/** Exactly one upstream request (waits for it, then a moment for a stray second one). */
async function onlyRequest(up, what) {
  await up.waitForRequests(1, 5000 * SCALE);
  await sleep(50);
  assert.equal(up.requests.length, 1, `${what}: exactly one upstream request; saw ${JSON.stringify(up.requests.map((r) => `${r.method} ${r.url}`))}`);
  return up.requests[0];
}

/** The credential headers: only the right one, exactly once, never x-cal-client-id. */
function assertCredential(rec, kind, what, { sk = SK, token = API_KEY } = {}) {
  const h = rec.headers;
  assert.equal(h['x-cal-client-id'], undefined, `${what}: x-cal-client-id must never be sent upstream`);
  if (kind === 'sk') {
    assert.equal(h['x-cal-secret-key'], sk, `${what}: upstream x-cal-secret-key`);
    assert.equal(headerCount(rec, 'x-cal-secret-key'), 1, `${what}: exactly one x-cal-secret-key`);
    assert.equal(h.authorization, undefined, `${what}: no Authorization on an OAuth-client (secret key) operation`);
  } else if (kind === 'bearer') {
    assert.equal(h.authorization, `Bearer ${token}`, `${what}: upstream Authorization`);
    assert.equal(headerCount(rec, 'authorization'), 1, `${what}: exactly one Authorization`);
    assert.equal(h['x-cal-secret-key'], undefined, `${what}: no x-cal-secret-key on a Bearer operation`);
  } else {
    assert.equal(h.authorization, undefined, `${what}: no Authorization on the unauthenticated Stripe callback`);
    assert.equal(h['x-cal-secret-key'], undefined, `${what}: no x-cal-secret-key on the unauthenticated Stripe callback`);
  }
}

/** The upstream saw exactly the request this operation must make. */
function assertUpstream(up, rec, o, what, cred) {
  assert.equal(rec.method, o.method, `${what}: upstream method`);
  assert.equal(rec.path, upPath(o), `${what}: upstream path`);
  if (o.query) assert.deepEqual(rec.query, upQuery(o), `${what}: upstream query; url ${rec.url}`);
  else assert.equal(rec.rawQuery, null, `${what}: no upstream query string; url ${rec.url}`);
  assertCredential(rec, o.auth, what, cred);
  assert.equal(rec.headers.host, `127.0.0.1:${up.port}`, `${what}: Host is the upstream host`);
  assert.equal(rec.headers['mcp-session-id'], undefined, `${what}: no MCP session id upstream`);
  if (o.body !== undefined) {
    assert.match(rec.headers['content-type'] || '', /^application\/json/, `${what}: upstream content type of the JSON body`);
    let got;
    assert.doesNotThrow(() => (got = JSON.parse(rec.bodyText)), `${what}: upstream body is JSON: ${rec.bodyText}`);
    assert.deepEqual(got, o.body, `${what}: upstream body (fields and JSON types)`);
  } else {
    assert.equal(rec.body.length, 0, `${what}: no upstream body; got ${rec.bodyText}`);
  }
}

/** Answer with the operation's success status and a distinct JSON document, remembered in `sent`. */
function scriptOk(up, o) {
  const sent = [];
  up.handle((rec) => {
    const body = o.reply ?? {
      status: 'success',
      data: { tool: o.tool, seq: rec.seq, amount: 12.5, ok: true, none: null, list: [1, 'two', null, false], text: 'Ä 😀 "q"' },
    };
    sent.push(body);
    return { status: o.status ?? 200, headers: { 'content-type': 'application/json' }, body };
  });
  return sent;
}

// MCP




function resultText(res) {
  return (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** A successful tool result: text content = the upstream JSON, structuredContent = the object. */
function assertOkResult(res, expected, what) {
  assert.notEqual(res.isError, true, `${what}: isError must be false/absent; got ${showResult(res)}`);
  assert.ok(Array.isArray(res.content) && res.content.length >= 1, `${what}: content array; got ${showResult(res)}`);
  assert.equal(res.content[0].type, 'text', `${what}: content[0].type; got ${showResult(res)}`);
  let parsed;
  assert.doesNotThrow(() => (parsed = JSON.parse(res.content[0].text)), `${what}: content[0].text is JSON; got ${res.content[0].text}`);
  assert.deepEqual(parsed, expected, `${what}: content[0].text is the upstream JSON`);
  assert.deepEqual(res.structuredContent, expected, `${what}: structuredContent is the upstream object`);
  assertNoSecret(`${what} result`, JSON.stringify(res));
}

/** An error tool result whose text names `name` (when given). */
function assertToolError(res, what, name) {
  assert.equal(res.isError, true, `${what}: isError must be true; got ${showResult(res)}`);
  assert.ok(Array.isArray(res.content) && res.content.length >= 1, `${what}: content; got ${showResult(res)}`);
  assert.equal(res.content[0].type, 'text', `${what}: content[0].type; got ${showResult(res)}`);
  if (name) assert.ok(resultText(res).includes(name), `${what}: the error text names ${name}; got ${showResult(res)}`);
  assertNoSecret(`${what} result`, JSON.stringify(res));
}

async function stopClean(px) {
  const r = await px.stop();
  assert.equal(r.sanitizer, null, `sanitizer report in capproxy's stderr:\n${r.sanitizer}`);
  for (const [i, line] of r.lines.entries()) assertNoSecret(`capproxy stderr line ${i + 1}`, line);
  assert.equal(r.killed, false, 'capproxy stops on SIGTERM without SIGKILL');
  assert.equal(r.code, 0, `capproxy exit code after SIGTERM; stderr tail:\n${r.lines.slice(-20).join('\n')}`);
  return r;
}

function platformProxy(up) {
  // the default arguments: -c config/capproxy.yaml capabilities/ (every document)
  // One upstream request per call: retries of 429/503 are resilience.test.mjs's subject.
  return startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SK, CAL_COM_API_KEY: API_KEY, CAPPROXY_UPSTREAM_RETRIES: 0 } });
}

const RATE_HEADERS = { 'x-ratelimit-limit-default': '120', 'x-ratelimit-remaining-default': '0', 'x-ratelimit-reset-default': '42' };
const EXPIRED = {
  status: 'error', timestamp: '2026-01-01T00:00:00.000Z', path: '/v2/me',
  error: { code: 'TokenExpiredException', message: 'ACCESS_TOKEN_IS_EXPIRED', details: { message: 'ACCESS_TOKEN_IS_EXPIRED', error: 'Token Expired', statusCode: 498 } },
};
const THROTTLED = {
  status: 'error', timestamp: '2026-01-01T00:00:00.000Z', path: '/v2/webhooks',
  error: { code: 'ThrottlerException', message: 'CustomThrottlerGuard - Too many requests. Please try again later.' },
};

// ---------------------------------------------------------------------------------------------

describe('Cal.com platform: the 29 operations over REST (/v1)', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await platformProxy(up);
  });
  after(async () => {
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('the table covers 29 distinct operations: 13 secret-key, 15 Bearer, 1 unauthenticated', () => {
    assert.equal(new Set(TOOL_NAMES).size, 29);
    const count = (k) => OPS.filter((o) => o.auth === k).length;
    assert.deepEqual([count('sk'), count('bearer'), count('none')], [13, 15, 1]);
    assert.equal(OPS.filter((o) => o.seed).length, 7);
  });

  for (const o of OPS) {
    const label = `${o.method} /v1${o.tmpl}${o.seed ? ' (seed route, whole body)' : ''}`;
    test(`REST ${o.tool.replace(/^cal_platform_/, '')}: ${label} -> exact upstream request, status ${o.status ?? 200}`, T, async () => {
      const sent = scriptOk(up, o);
      const r = await sendRest(px, o);
      assert.equal(r.status, o.status ?? 200, `status passed through; got ${describeRes(r)}`);
      assert.match(r.headers['content-type'] || '', /^application\/json/, `JSON content type; got ${describeRes(r)}`);
      const rec = await onlyRequest(up, o.tool);
      assertUpstream(up, rec, o, `REST ${o.tool}`);
      assert.deepEqual(r.json, sent[0], 'the response body is the upstream document');
    });
  }

  test("REST: the caller's own x-cal-secret-key wins (secret-key operation)", T, async () => {
    const o = op('oauth_client_webhooks_controller_get_oauth_client_webhooks');
    scriptOk(up, o);
    const r = await sendRest(px, o, { headers: { 'X-Cal-Secret-Key': CALLER_SK } });
    assert.equal(r.status, 200, describeRes(r));
    assertUpstream(up, await onlyRequest(up, o.tool), o, 'caller SK', { sk: CALLER_SK });
  });

  test("REST: the caller's own Authorization wins (Bearer operation)", T, async () => {
    const o = op('me_controller_update_me');
    scriptOk(up, o);
    const r = await sendRest(px, o, { headers: { Authorization: `Bearer ${CALLER_TOKEN}` } });
    assert.equal(r.status, 200, describeRes(r));
    assertUpstream(up, await onlyRequest(up, o.tool), o, 'caller Bearer', { token: CALLER_TOKEN });
  });

  test('REST stripe save: a caller\'s Authorization is not forwarded to the unauthenticated callback', T, async () => {
    const o = op('stripe_controller_save');
    scriptOk(up, o);
    const r = await sendRest(px, o, { headers: { Authorization: `Bearer ${CALLER_TOKEN}` } });
    assert.equal(r.status, 200, describeRes(r));
    assertUpstream(up, await onlyRequest(up, o.tool), o, 'stripe save with a caller Authorization');
  });

  test('REST: absent optional body fields and query parameters are left out', T, async () => {
    const o = { ...op('webhooks_controller_update_webhook'), body: { active: false } };
    scriptOk(up, o);
    let r = await sendRest(px, o);
    assert.equal(r.status, 200, describeRes(r));
    assertUpstream(up, await onlyRequest(up, o.tool), o, 'PATCH with one field');

    up.reset();
    const l = { ...op('webhooks_controller_get_webhooks'), query: { skip: 7 } };
    scriptOk(up, l);
    r = await sendRest(px, l);
    assert.equal(r.status, 200, describeRes(r));
    assertUpstream(up, await onlyRequest(up, l.tool), l, 'GET with skip only');
  });

  test('REST: a missing required body field (create OAuth client without permissions) -> 400 naming it, nothing upstream', T, async () => {
    const o = op('oauth_clients_controller_create_oauth_client');
    const { permissions, ...body } = o.body;
    assert.ok(permissions);
    const r = await sendRest(px, o, { body });
    assert.equal(r.status, 400, describeRes(r));
    assert.ok(r.text.includes('permissions'), `the problem names permissions; got ${r.text}`);
    await assertNothingUpstream(up, 'a create without permissions');
  });
});

// ---------------------------------------------------------------------------------------------

describe('Cal.com platform: the 29 cal_platform_* tools over MCP (SDK client at /cal-platform)', () => {
  let up;
  let px;
  let c;
  const others = [];
  before(async () => {
    up = await startUpstream();
    px = await platformProxy(up);
    assert.ok(px.mcp && px.mcp.port > 0, `an "mcp listening on HOST:PORT" line; stderr:\n${px.stderr()}`);
    c = await connectHttp(`${px.mcpUrl}/cal-platform`);
  });
  after(async () => {
    for (const o of others) await closeClient(o);
    await closeClient(c);
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('tools/list at /cal-platform: exactly the 29 cal_platform_* tools (not the seed tools)', T, async () => {
    const names = (await listAllTools(c.client)).map((t) => t.name).sort();
    assert.deepEqual(names, TOOL_NAMES);
    for (const s of SEED_TOOLS) assert.ok(!names.includes(s), `the seed tool ${s} must not be listed at /cal-platform`);
  });

  test("tools/list at /cal-platform: each tool's input schema has the seed's parameters, types and required", T, async () => {
    const tools = await listAllTools(c.client);
    const problems = [];
    for (const o of OPS) {
      const d = tools.find((t) => t.name === o.tool);
      if (!d) {
        problems.push(`${o.tool}: not listed`);
        continue;
      }
      const s = d.inputSchema || {};
      const { props, required } = parseParams(o.params);
      const got = s.properties || {};
      if (s.type !== 'object') problems.push(`${o.tool}: inputSchema.type ${s.type}`);
      const missing = Object.keys(props).filter((p) => !(p in got));
      const extra = Object.keys(got).filter((p) => !(p in props));
      if (missing.length) problems.push(`${o.tool}: missing properties ${missing.join(', ')}`);
      if (extra.length) problems.push(`${o.tool}: unexpected properties ${extra.join(', ')}`);
      for (const [p, type] of Object.entries(props)) {
        if (p in got && got[p].type !== type) problems.push(`${o.tool}: ${p} has type ${got[p].type}, expected ${type}`);
      }
      const req = [...(s.required || [])].sort().join(',');
      if (req !== [...required].sort().join(',')) problems.push(`${o.tool}: required [${req}], expected [${[...required].sort()}]`);
      const text = JSON.stringify(d).toLowerCase();
      if (text.includes('x-cal-secret-key') || text.includes('authorization')) problems.push(`${o.tool}: mentions a credential header`);
    }
    assert.deepEqual(problems, [], `input schemas differ from the seed's tool parameters:\n${problems.join('\n')}`);
  });

  test('tools/list at /mcp has the 29 platform tools, not the seed tools calling the same operations (callable by name); /mcp/cal-com-platform-stripe-mcp only the 3 Stripe tools', T, async () => {
    const all = await connectHttp(`${px.mcpUrl}/mcp`);
    others.push(all);
    const names = (await listAllTools(all.client)).map((t) => t.name);
    for (const n of TOOL_NAMES) assert.ok(names.includes(n), `${n} listed at /mcp; got ${names}`);
    for (const n of SEED_TOOLS) assert.ok(!names.includes(n), `${n}: the same upstream operation as a cal_platform tool, not listed at /mcp; got ${names}`);
    assert.equal(names.length, 29, `29 tools at /mcp (each upstream operation once); got ${names}`);
    const stripe = await connectHttp(`${px.mcpUrl}/mcp/cal-com-platform-stripe-mcp`);
    others.push(stripe);
    assert.deepEqual((await listAllTools(stripe.client)).map((t) => t.name).sort(), TOOL_NAMES.filter((n) => n.includes('_stripe_')));
    // a platform tool called at /mcp sends the same upstream request
    const o = op('webhooks_controller_get_webhooks');
    const sent = scriptOk(up, o);
    const res = await callTool(all.client, o.tool, toolArgs(o));
    assertUpstream(up, await onlyRequest(up, o.tool), o, `MCP /mcp ${o.tool}`);
    assertOkResult(res, sent[0], `${o.tool} at /mcp`);
  });

  for (const o of OPS) {
    test(`MCP ${o.tool}: flat arguments -> exact upstream ${o.method} ${o.tmpl}, result = the upstream JSON`, T, async () => {
      const sent = scriptOk(up, o);
      const res = await callTool(c.client, o.tool, toolArgs(o));
      const rec = await onlyRequest(up, o.tool);
      assertUpstream(up, rec, o, `MCP ${o.tool}`);
      assertOkResult(res, sent[0], o.tool);
    });
  }

  test("MCP: the client's own HTTP headers win: x-cal-secret-key (secret-key tool), Authorization (Bearer tool), none sent to the Stripe callback", T, async () => {
    const skc = await connectHttp(`${px.mcpUrl}/cal-platform`, { headers: { 'x-cal-secret-key': CALLER_SK } });
    others.push(skc);
    let o = op('oauth_client_users_controller_create_user');
    let sent = scriptOk(up, o);
    let res = await callTool(skc.client, o.tool, toolArgs(o));
    assertUpstream(up, await onlyRequest(up, o.tool), o, 'MCP caller SK', { sk: CALLER_SK });
    assertOkResult(res, sent[0], o.tool);

    const bc = await connectHttp(`${px.mcpUrl}/cal-platform`, { headers: { authorization: `Bearer ${CALLER_TOKEN}` } });
    others.push(bc);
    for (const suffix of ['webhooks_controller_create_webhook', 'stripe_controller_save']) {
      up.reset();
      o = op(suffix);
      sent = scriptOk(up, o);
      res = await callTool(bc.client, o.tool, toolArgs(o));
      assertUpstream(up, await onlyRequest(up, o.tool), o, `MCP caller Bearer ${o.tool}`, { token: CALLER_TOKEN });
      assertOkResult(res, sent[0], o.tool);
    }
  });

  const MISSING = [
    ['oauth_client_users_controller_create_user', 'email'],
    ['oauth_client_webhooks_controller_create_oauth_client_webhook', 'triggers'],
    ['oauth_clients_controller_create_oauth_client', 'redirectUris'],
    ['oauth_flow_controller_refresh_tokens', 'refreshToken'],
    ['stripe_controller_save', 'code'],
    ['webhooks_controller_get_webhook', 'webhookId'],
  ];
  for (const [suffix, missing] of MISSING) {
    test(`MCP cal_platform_${suffix} without the required ${missing} -> tool error naming it, nothing upstream`, T, async () => {
      const o = op(suffix);
      const args = toolArgs(o);
      delete args[missing];
      const res = await callTool(c.client, o.tool, args);
      assertToolError(res, `${o.tool} without ${missing}`, missing);
      await assertNothingUpstream(up, `${o.tool} without ${missing}`);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('Cal.com platform: edge cases from the issue (REST and MCP)', () => {
  let up;
  let px;
  let c;
  before(async () => {
    up = await startUpstream();
    px = await platformProxy(up);
    c = await connectHttp(`${px.mcpUrl}/cal-platform`);
  });
  after(async () => {
    await closeClient(c);
    if (px && !px.exited) await stopClean(px);
    await up?.close();
  });
  beforeEach(() => up.reset());

  const save = () => op('stripe_controller_save');
  // the Location points back at the stand-in: following it would show as a second request
  const redirect301 = () => {
    const location = `${up.url}/v2/followed-redirect?from=stripe-save`;
    up.handle(() => ({ status: 301, headers: { location, 'content-type': 'text/plain' }, body: `Moved Permanently. Redirecting to ${location}` }));
    return location;
  };

  test('REST stripe save: the 301 and its Location pass through, not followed (exactly one upstream request)', T, async () => {
    const location = redirect301();
    const o = save();
    const r = await sendRest(px, o);
    assert.equal(r.status, 301, `the redirect passes through; got ${describeRes(r)}`);
    assert.equal(r.headers.location, location, `Location passes through; got ${describeRes(r)}`);
    const rec = await onlyRequest(up, 'stripe save (301)');
    assertUpstream(up, rec, o, 'stripe save 301');
    await sleep(150);
    assert.deepEqual(up.requests.map((x) => x.path), ['/v2/stripe/save'], 'the redirect was not followed');
  });

  test('MCP stripe save: a 301 is not followed (exactly one upstream request) and is not an error result', T, async () => {
    const location = redirect301();
    const o = save();
    const res = await callTool(c.client, o.tool, toolArgs(o));
    const rec = await onlyRequest(up, 'MCP stripe save (301)');
    assertUpstream(up, rec, o, 'MCP stripe save 301');
    await sleep(150);
    assert.deepEqual(up.requests.map((x) => x.path), ['/v2/stripe/save'], 'the redirect was not followed');
    assert.notEqual(res.isError, true, `a 301 (< 400) is not an error result; got ${showResult(res)}`);
    assert.ok(resultText(res).includes('Moved Permanently'), `the upstream body as text; got ${showResult(res)}`);
    assertNoSecret('MCP stripe save result', JSON.stringify(res));
    assert.ok(location);
  });

  test("REST: Cal.com's 498 (expired access token) passes through with its body", T, async () => {
    up.handle(() => ({ status: 498, headers: { 'content-type': 'application/json', 'x-request-id': 'cal-req-498' }, body: EXPIRED }));
    const r = await sendRest(px, op('me_controller_get_me'));
    assert.equal(r.status, 498, describeRes(r));
    assert.deepEqual(r.json, EXPIRED, 'the 498 body passes through');
    await onlyRequest(up, 'get_me 498');
  });

  for (const suffix of ['webhooks_controller_get_webhooks', 'oauth_client_users_controller_get_managed_users']) {
    test(`REST ${suffix}: Cal.com's 429 passes through with X-RateLimit-*-Default headers`, T, async () => {
      up.handle(() => ({ status: 429, headers: { 'content-type': 'application/json', ...RATE_HEADERS }, body: THROTTLED }));
      const r = await sendRest(px, op(suffix));
      assert.equal(r.status, 429, describeRes(r));
      for (const [k, v] of Object.entries(RATE_HEADERS)) assert.equal(r.headers[k], v, `${k} passes through; got ${describeRes(r)}`);
      assert.deepEqual(r.json, THROTTLED, 'the 429 body passes through');
      await onlyRequest(up, `${suffix} 429`);
    });
  }

  test("MCP: Cal.com's 498 and 429 are error results carrying the upstream body as text", T, async () => {
    const cases = [
      ['me_controller_get_me', 498, EXPIRED, {}],
      ['webhooks_controller_get_webhooks', 429, THROTTLED, RATE_HEADERS],
      ['oauth_client_webhooks_controller_get_oauth_client_webhooks', 429, THROTTLED, RATE_HEADERS],
    ];
    for (const [suffix, status, body, headers] of cases) {
      up.reset();
      up.handle(() => ({ status, headers: { 'content-type': 'application/json', ...headers }, body }));
      const o = op(suffix);
      const res = await callTool(c.client, o.tool, toolArgs(o));
      await onlyRequest(up, `${o.tool} ${status}`);
      assertToolError(res, `${o.tool} -> ${status}`);
      let parsed;
      assert.doesNotThrow(() => (parsed = JSON.parse(res.content[0].text)), `${o.tool} ${status}: the text is the upstream JSON; got ${res.content[0].text}`);
      assert.deepEqual(parsed, body, `${o.tool} ${status}: the upstream body as text`);
    }
  });

  test('delete_all_oauth_client_webhooks: {"status":"success","data":"3 webhooks deleted"} (data a string) passes through on REST and MCP', T, async () => {
    const body = { status: 'success', data: '3 webhooks deleted' };
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body }));
    const o = op('oauth_client_webhooks_controller_delete_all_oauth_client_webhooks');
    const r = await sendRest(px, o);
    assert.equal(r.status, 200, describeRes(r));
    assert.equal(r.text, JSON.stringify(body), 'REST body byte for byte');
    assertUpstream(up, await onlyRequest(up, 'REST delete all'), o, 'REST delete all');
    up.reset();
    up.handle(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body }));
    const res = await callTool(c.client, o.tool, toolArgs(o));
    assertUpstream(up, await onlyRequest(up, 'MCP delete all'), o, 'MCP delete all');
    assertOkResult(res, body, 'MCP delete all');
  });

  test('an empty upstream body (204, and 200 with no body) passes through on REST', T, async () => {
    const o = op('webhooks_controller_delete_webhook');
    for (const status of [204, 200]) {
      up.reset();
      up.handle(() => ({ status, body: '' }));
      const r = await sendRest(px, o);
      assert.equal(r.status, status, `status ${status}; got ${describeRes(r)}`);
      assert.equal(r.body.length, 0, `empty body for ${status}; got ${describeRes(r)}`);
      assertUpstream(up, await onlyRequest(up, `REST empty ${status}`), o, `REST empty ${status}`);
    }
  });

  test('an empty upstream body (204, and 200 with no body) gives a non-error MCP result', T, async () => {
    const o = op('oauth_client_webhooks_controller_delete_oauth_client_webhook');
    for (const status of [204, 200]) {
      up.reset();
      up.handle(() => ({ status, body: '' }));
      const res = await callTool(c.client, o.tool, toolArgs(o));
      assertUpstream(up, await onlyRequest(up, `MCP empty ${status}`), o, `MCP empty ${status}`);
      assert.notEqual(res.isError, true, `${status} with no body: not an error; got ${showResult(res)}`);
      assert.ok(Array.isArray(res.content), `${status}: content array; got ${showResult(res)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('Cal.com platform: capproxy routes and validate', () => {
  const ENV = { CAL_COM_CLIENT_SECRET: 'routes-DISTINCT-client-secret-5f3e9a', CAL_COM_API_KEY: 'cal_routes-DISTINCT-api-key-8c2d71' };

  test('routes: 36 route lines (29 platform + 7 seed), every cal_platform tool with its upstream and credential kind, the seed REST paths, no credential value', T_LONG, async () => {
    const r = await runCapproxy(['routes', '-c', 'config/capproxy.yaml', 'capabilities/'], { env: ENV, timeoutMs: 15_000 * SCALE });
    assert.equal(r.code, 0, `routes exit code; stderr:\n${r.stderr}`);
    assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
    const out = r.stdout;
    const lines = out.split('\n');
    const routeLines = lines.filter((l) => /\/v2\//.test(l));
    assert.equal(routeLines.length, 36, `36 route lines; got ${routeLines.length}:\n${out}`);
    for (const o of OPS) {
      const mine = routeLines.filter((l) => l.split(/\s+/).includes(o.tool));
      assert.equal(mine.length, 1, `${o.tool} on exactly one line:\n${out}`);
      const l = mine[0];
      assert.ok(new RegExp(`\\b${o.method}\\s+\\S*${o.tmpl.replace(/[{}]/g, '\\$&')}(\\s|$)`).test(l), `${o.tool}: upstream ${o.method} ${o.tmpl} on its line: ${l}`);
      if (!o.seed) assert.ok(l.includes(`/v1${o.tmpl.toLowerCase()}`), `${o.tool}: its REST path /v1${o.tmpl.toLowerCase()} on its line: ${l}`);
      if (o.auth === 'sk') assert.ok(/x-cal-secret-key/i.test(l) && !/authorization/i.test(l), `${o.tool}: x-cal-secret-key credential: ${l}`);
      if (o.auth === 'bearer') assert.ok(/authorization|bearer/i.test(l) && !/x-cal-secret-key/i.test(l), `${o.tool}: Bearer credential: ${l}`);
      if (o.auth === 'none') assert.ok(!/authorization|bearer|x-cal-secret-key/i.test(l), `${o.tool}: no credential: ${l}`);
    }
    for (const sr of SEED_ROUTES) {
      const [method, p] = sr.split(' ');
      assert.ok(routeLines.some((l) => new RegExp(`^${method}\\s+${p.replace(/[{}]/g, '\\$&')}\\s`).test(l)), `seed route ${sr} listed:\n${out}`);
    }
    for (const v of Object.values(ENV)) assert.ok(!(out + r.stderr).includes(v), `the credential value ${v} must not be printed`);
    assert.ok(!/x-cal-client-id/i.test(out), 'x-cal-client-id is never a credential');
  });

  test('validate capabilities/ exits 0', T_LONG, async () => {
    const r = await runCapproxy(['validate', 'capabilities/'], { env: ENV, timeoutMs: 15_000 * SCALE });
    assert.equal(r.code, 0, `validate exit code; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.equal(r.sanitizer, null, `sanitizer report:\n${r.sanitizer}`);
    assert.ok(!/error:/.test(r.stdout + r.stderr), `no error diagnostics:\n${r.stdout}${r.stderr}`);
    for (const v of Object.values(ENV)) assert.ok(!(r.stdout + r.stderr).includes(v), `the credential value ${v} must not be printed`);
  });
});
