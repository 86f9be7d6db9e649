// Integration tests for tool schemas an LLM can fill in, and forgiving argument conversion
// (issue 11, items 7 and 8), against the shipped capabilities/ and a recording upstream.
//
// - tools/list at /cal-platform (both SDK clients): the 29 cal_platform tools, no `items: {}`
//   anywhere (every array names its item type), distinct descriptions, enumerations exactly as
//   ../shared/calcom/openapi-v2.json lists them (the 19 webhook triggers, permissions, weekStart,
//   locale, timeFormat 12/24), and the seed's create-managed-user body naming the fields the
//   API's CreateManagedUserInput has (the required ones said to be required).
// - A numeric string for a number and a comma-separated string for an array reach the upstream
//   converted (MCP and REST); an unconvertible one is a tool error (or a 400) naming the argument
//   and the expected type, and nothing is sent.
//
// Run: cd tests/integration && node --test schemas.test.mjs

import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, repoRoot } from './capproxy.mjs';
import { request } from './client.mjs';
import { SDKS, SCALE, connectHttp, closeClient, listAllTools, callTool, showResult } from './mcp-helpers.mjs';

const T = { timeout: 20_000 * SCALE };
const SK = 'sk-SCHEMAS-TEST-5ecret-91c2';
const API_KEY = 'cal_SCHEMAS-TEST-apikey-77ab';

const OPENAPI = JSON.parse(fs.readFileSync(path.resolve(repoRoot, '..', 'shared', 'calcom', 'openapi-v2.json'), 'utf8'));
const SCHEMAS = OPENAPI.components.schemas;
const TRIGGERS = SCHEMAS.CreateWebhookInputDto.properties.triggers.enum;
const PERMISSIONS = SCHEMAS.CreateOAuthClientInput.properties.permissions.items.enum;
const WEEK = SCHEMAS.CreateManagedUserInput.properties.weekStart.enum;
const LOCALES = SCHEMAS.CreateManagedUserInput.properties.locale.enum;
const TIME_FORMATS = SCHEMAS.CreateManagedUserInput.properties.timeFormat.enum;

function proxy(up) {
  return startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: SK, CAL_COM_API_KEY: API_KEY } });
}

// Every sub-schema of <schema>, with its JSON pointer.
function* walk(schema, at = '') {
  if (!schema || typeof schema !== 'object') return;
  yield [at, schema];
  for (const [k, v] of Object.entries(schema.properties || {})) yield* walk(v, `${at}/properties/${k}`);
  if (schema.items) yield* walk(schema.items, `${at}/items`);
}

// <text> names every value of <values>, each as a whole word.
function assertListsAll(text, values, what) {
  for (const v of values) {
    const re = new RegExp(`(^|[^A-Za-z0-9_-])${String(v).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^A-Za-z0-9_-]|$)`);
    assert.match(text, re, `${what}: '${v}' missing from ${JSON.stringify(text)}`);
  }
}

function toolText(res) {
  return (res.content || []).map((c) => c.text || '').join('\n');
}

test('the OpenAPI document lists 19 webhook triggers', () => {
  assert.equal(TRIGGERS.length, 19);
  assert.deepEqual(SCHEMAS.UpdateWebhookInputDto.properties.triggers.enum, TRIGGERS);
});

for (const sdk of SDKS) {
  describe(`tool schemas at /cal-platform (MCP SDK ${sdk}.x)`, () => {
    let up;
    let px;
    let c;
    let tools;
    let byName;
    before(async () => {
      up = await startUpstream();
      px = await proxy(up);
      c = await connectHttp(`${px.mcpUrl}/cal-platform`, { sdk });
      tools = await listAllTools(c.client);
      byName = new Map(tools.map((t) => [t.name, t]));
    });
    after(async () => {
      if (c) await closeClient(c);
      await px?.stop();
      await up?.close();
    });
    beforeEach(() => up.reset());

    test('29 tools, every description distinct, every parameter described', () => {
      assert.equal(tools.length, 29);
      assert.ok(tools.every((t) => t.name.startsWith('cal_platform_')));
      const descs = tools.map((t) => t.description);
      assert.ok(descs.every((d) => typeof d === 'string' && d.length > 10), 'every tool has a description');
      assert.equal(new Set(descs).size, 29, `duplicates: ${descs.filter((d, i) => descs.indexOf(d) !== i)}`);
      for (const t of tools) {
        for (const [name, p] of Object.entries(t.inputSchema.properties || {})) {
          assert.ok(p.description && p.description !== name, `${t.name}.${name} says more than its name`);
        }
      }
    });

    test('no items: {} anywhere; every array names its item type', () => {
      let arrays = 0;
      for (const t of tools) {
        for (const [at, s] of walk(t.inputSchema)) {
          if (s.items) assert.notDeepEqual(s.items, {}, `${t.name}${at}: items: {}`);
          if (s.type === 'array') {
            arrays++;
            assert.equal(typeof s.items?.type, 'string', `${t.name}${at}: array without an item type`);
          }
        }
      }
      assert.ok(arrays >= 6, `the arrays were walked (${arrays})`);
    });

    test('enumerations are the OpenAPI ones: triggers (19), permissions, weekStart, locale, timeFormat', () => {
      for (const name of ['cal_platform_webhooks_controller_create_webhook', 'cal_platform_webhooks_controller_update_webhook',
        'cal_platform_oauth_client_webhooks_controller_create_oauth_client_webhook',
        'cal_platform_oauth_client_webhooks_controller_update_oauth_client_webhook']) {
        const p = byName.get(name).inputSchema.properties.triggers;
        assert.equal(p.type, 'array');
        assert.deepEqual(p.items, { type: 'string' });
        assertListsAll(p.description, TRIGGERS, `${name} triggers`);
      }
      const perm = byName.get('cal_platform_oauth_clients_controller_create_oauth_client').inputSchema.properties.permissions;
      assertListsAll(perm.description.replace(/^.*Each one of:/, ''), PERMISSIONS, 'permissions');
      for (const name of ['cal_platform_oauth_client_users_controller_create_user', 'cal_platform_oauth_client_users_controller_update_user',
        'cal_platform_me_controller_update_me']) {
        const props = byName.get(name).inputSchema.properties;
        assertListsAll(props.weekStart.description, WEEK, `${name} weekStart`);
        assertListsAll(props.locale.description, LOCALES, `${name} locale`);
        assertListsAll(props.timeFormat.description, TIME_FORMATS, `${name} timeFormat`);
        assert.equal(props.timeFormat.type, 'number');
      }
    });

    test('the seed create-managed-user body names the fields of CreateManagedUserInput', async () => {
      // The seed's own endpoint: /mcp lists the cal_platform twin of this operation instead.
      const seed = await connectHttp(`${px.mcpUrl}/mcp/cal-com-deprecated-platform-managed-users-mcp`, { sdk });
      try {
        const t = (await listAllTools(seed.client)).find((x) => x.name === 'create-managed-user');
        assert.ok(t, 'the seed tool is listed');
        const body = t.inputSchema.properties.body;
        assert.equal(body.type, 'object');
        assert.deepEqual(t.inputSchema.required, ['clientId', 'body']);
        const input = SCHEMAS.CreateManagedUserInput;
        for (const f of Object.keys(input.properties)) assertListsAll(body.description, [f], 'body fields');
        const req = body.description.match(/Required fields: (.*?)\. Optional:/);
        assert.ok(req, `the body says which fields are required: ${body.description}`);
        for (const f of input.required) assert.match(req[1], new RegExp(`\\b${f} \\(`), `required ${f}`);
        assertListsAll(body.description, WEEK, 'weekStart values');
      } finally {
        await closeClient(seed);
      }
    });

    test('MCP: "42" for a number and "a, b" for an array reach the upstream converted', T, async () => {
      let r = await callTool(c.client, 'cal_platform_webhooks_controller_create_webhook',
        { active: true, subscriberUrl: 'https://hooks.example.com/in', triggers: 'BOOKING_CREATED, BOOKING_CANCELLED' });
      assert.ok(!r.isError, showResult(r));
      assert.equal(up.requests.length, 1);
      assert.deepEqual(JSON.parse(up.requests[0].bodyText),
        { active: true, subscriberUrl: 'https://hooks.example.com/in', triggers: ['BOOKING_CREATED', 'BOOKING_CANCELLED'] });

      up.reset();
      r = await callTool(c.client, 'cal_platform_oauth_client_users_controller_update_user',
        { clientId: 'cl-1', userId: '42', timeFormat: '24', defaultScheduleId: '12345678901234567890' });
      assert.ok(!r.isError, showResult(r));
      assert.equal(up.requests[0].path, '/v2/oauth-clients/cl-1/users/42');
      // digits kept exactly, numbers as JSON numbers
      assert.equal(up.requests[0].bodyText, '{"timeFormat":24,"defaultScheduleId":12345678901234567890}');

      up.reset();
      r = await callTool(c.client, 'cal_platform_webhooks_controller_get_webhooks', { take: '42', skip: '0' });
      assert.ok(!r.isError, showResult(r));
      assert.equal(up.requests[0].url, '/v2/webhooks?take=42&skip=0');
    });

    test('MCP: an unconvertible argument is a tool error naming it and the type; nothing is sent', T, async () => {
      const cases = [
        ['cal_platform_oauth_client_users_controller_get_user_by_id', { clientId: 'cl-1', userId: 'forty-two' },
          "argument 'userId' must be a number (got a string that is not one)"],
        ['cal_platform_webhooks_controller_get_webhooks', { take: '4 2' },
          "argument 'take' must be a number (got a string that is not one)"],
        ['cal_platform_webhooks_controller_create_webhook', { active: 'yes', subscriberUrl: 'https://h.example', triggers: ['BOOKING_PAID'] },
          "argument 'active' must be a boolean (got a string that is neither true nor false)"],
        ['cal_platform_webhooks_controller_create_webhook', { active: true, subscriberUrl: 'https://h.example', triggers: 'BOOKING_PAID,,MEETING_ENDED' },
          "argument 'triggers' must be an array (got a comma-separated string with an empty item 2)"],
      ];
      for (const [name, args, want] of cases) {
        const r = await callTool(c.client, name, args);
        assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${showResult(r)}`);
        assert.equal(toolText(r), want);
      }
      assert.equal(up.requests.length, 0, 'nothing reached the upstream');
    });
  });
}

describe('REST: the same conversion for JSON body fields', () => {
  let up;
  let px;
  before(async () => {
    up = await startUpstream();
    px = await proxy(up);
  });
  after(async () => {
    await px?.stop();
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('"60" for a number and "a,b" for an array reach the upstream converted', T, async () => {
    let r = await request(px.restUrl, '/v1/v2/api-keys/refresh', { method: 'POST', body: { apiKeyDaysValid: '60' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(up.requests[0].bodyText, '{"apiKeyDaysValid":60}');

    up.reset();
    r = await request(px.restUrl, '/v1/v2/webhooks', {
      method: 'POST',
      body: { active: 'true', subscriberUrl: 'https://hooks.example.com/in', triggers: 'BOOKING_CREATED,MEETING_ENDED' },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(up.requests[0].bodyText),
      { active: true, subscriberUrl: 'https://hooks.example.com/in', triggers: ['BOOKING_CREATED', 'MEETING_ENDED'] });
  });

  test('an unconvertible field is a 400 naming it and the type; nothing is sent', T, async () => {
    const r = await request(px.restUrl, '/v1/v2/api-keys/refresh', { method: 'POST', body: { apiKeyDaysValid: 'sixty' } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /parameter 'apiKeyDaysValid' must be a number \(got a string that is not one\)/);
    assert.equal(up.requests.length, 0);
  });
});
