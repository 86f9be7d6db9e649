// Contract test: the capability documents against the Cal.com OpenAPI document and the seed tool list.
//
// Reads ../shared/calcom/openapi-v2.json (the Dec-2025 Cal.com API v2 spec), the cal_platform tool
// list ../shared/seeds/000_df395cef72bd98d9.txt, and every capabilities/*.yaml. No proxy is started.
//
// Checks:
//  - every consumed operation's method + path exists in the spec, named after its operationId;
//  - every required path, query and header parameter and every required body field of that spec
//    operation is produced by the capability (a consumed parameter with that name and location,
//    or for the Authorization / x-cal-secret-key headers the consumes authentication block);
//  - the authentication each consumes entry declares is the one the spec asks for;
//  - where the spec itself is wrong (platform-operations.md), an explicit assertion about the
//    known bug: the spec lacks / mistypes the thing AND the capability has it right;
//  - the 29 cal_platform tools equal the seed list, with exactly its parameters;
//  - REST and MCP adapters follow the project's conventions; no REST route is declared twice;
//  - no document mentions the client-id header.
//
// Needs the `yaml` npm package (tests/integration devDependency).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const specPath = path.resolve(repoRoot, '../shared/calcom/openapi-v2.json');
const seedToolsPath = path.resolve(repoRoot, '../shared/seeds/000_df395cef72bd98d9.txt');
const capDir = path.join(repoRoot, 'capabilities');

let YAML = null;
let yamlImportError = null;
try {
  YAML = (await import('yaml')).default;
} catch (e) {
  yamlImportError = e;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const PLATFORM_PREFIX = 'cal-com-platform-';
const MCP_PATH = '/cal-platform';
const CLIENT_ID_HEADER = ['x', 'cal', 'client', 'id'].join('-');

// ---------------------------------------------------------------------------------------------
// Known defects of the Dec-2025 spec (calcom/platform-operations.md). Each is asserted, not skipped.

// Path variables in the path template that the spec forgets to declare as parameters.
const SPEC_UNDECLARED_PATH_PARAMS = {
  OAuthClientWebhooksController_deleteOAuthClientWebhook: ['clientId', 'webhookId'],
  OAuthClientWebhooksController_getOAuthClientWebhook: ['clientId', 'webhookId'],
  OAuthClientWebhooksController_updateOAuthClientWebhook: ['clientId'],
  WebhooksController_getWebhook: ['webhookId'],
};
// Body fields the spec types wrongly: {field: [spec type, real type]}.
const SPEC_MISTYPED_BODY_FIELDS = { triggers: ['string', 'array'] };
const SPEC_TRIGGERS_OPS = [
  'OAuthClientWebhooksController_createOAuthClientWebhook',
  'OAuthClientWebhooksController_updateOAuthClientWebhook',
  'WebhooksController_createWebhook',
  'WebhooksController_updateWebhook',
];
// Parameters the capabilities send that the spec does not declare (the server reads or ignores them).
const KNOWN_EXTRA_BODY = {
  // seed tool parameter; only 2026 API versions know it, older servers strip it
  OAuthClientWebhooksController_createOAuthClientWebhook: ['version'],
  OAuthClientWebhooksController_updateOAuthClientWebhook: ['version'],
  WebhooksController_createWebhook: ['version'],
  WebhooksController_updateWebhook: ['version'],
};
const KNOWN_EXTRA_QUERY = {
  StripeController_save: ['error', 'error_description'], // sent by Stripe on refusal, undocumented
};

// ---------------------------------------------------------------------------------------------
// Loading

const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
const specOps = new Map(); // operationId -> {method, path, op}
for (const [p, item] of Object.entries(spec.paths)) {
  for (const m of METHODS) {
    if (item[m]?.operationId) specOps.set(item[m].operationId, { method: m.toUpperCase(), path: p, op: item[m] });
  }
}
function specByName(name) {
  for (const [id, v] of specOps) if (opName(id) === name) return { id, ...v };
  return null;
}
function resolveSchema(s) {
  while (s && s.$ref) s = spec.components.schemas[s.$ref.split('/').pop()];
  return s;
}
function specBody(op) {
  const s = op.requestBody?.content?.['application/json']?.schema;
  return s ? resolveSchema(s) : null;
}
function opName(operationId) {
  return operationId.toLowerCase().replace(/_/g, '');
}

// The seed tool list: a scraped page, one "nameTYPEYes|Nodescription" line per parameter.
function parseSeedTools(text) {
  const lines = text.split('\n').map((l) => l.trim());
  const titles = new Map();
  let i = lines.findIndex((l) => l.startsWith('ToolDescription'));
  assert.ok(i >= 0, 'seed tool list: no "ToolDescription" header');
  for (i++; i < lines.length; i++) {
    const m = /^(cal_platform_[a-z_]+?)([A-Z].*)$/.exec(lines[i]);
    if (!m) break;
    titles.set(m[1], m[2]);
  }
  const params = new Map([...titles.keys()].map((k) => [k, []]));
  let cur = null;
  for (; i < lines.length; i++) {
    const l = lines[i];
    if (titles.has(l)) {
      cur = l;
      continue;
    }
    if (!cur || l.startsWith('Parameter')) continue;
    const m = /^([A-Za-z]+?)(string|number|boolean|object|any\[\])(Yes|No)(.*)$/.exec(l);
    if (m) params.get(cur).push({ name: m[1], type: m[2], required: m[3] === 'Yes', description: m[4] });
  }
  return { titles, params };
}
const seedTools = parseSeedTools(fs.readFileSync(seedToolsPath, 'utf8'));

const docFiles = fs
  .readdirSync(capDir)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
let docsCache = null;
function docs() {
  if (!YAML) {
    assert.fail(
      `the 'yaml' npm package is not installed (add it to tests/integration devDependencies): ${yamlImportError?.message}`,
    );
  }
  if (!docsCache) {
    docsCache = docFiles.map((file) => {
      const text = fs.readFileSync(path.join(capDir, file), 'utf8');
      return { file, text, doc: YAML.parse(text) };
    });
  }
  return docsCache;
}
const platformDocs = () => docs().filter((d) => d.file.startsWith(PLATFORM_PREFIX));

// every consumed operation: {file, consumes, resource, op}
function consumedOps(list = docs()) {
  const out = [];
  for (const d of list) {
    for (const c of d.doc.capability?.consumes ?? []) {
      for (const r of c.resources ?? []) {
        for (const op of r.operations ?? []) out.push({ file: d.file, doc: d.doc, consumes: c, resource: r, op });
      }
    }
  }
  return out;
}
function findConsumed(d, call) {
  const dot = call.indexOf('.');
  const ns = call.slice(0, dot);
  const name = call.slice(dot + 1);
  const c = (d.doc.capability.consumes ?? []).find((x) => x.namespace === ns);
  if (!c) return null;
  for (const r of c.resources ?? []) {
    const op = (r.operations ?? []).find((o) => o.name === name);
    if (op) return { consumes: c, resource: r, op };
  }
  return null;
}
const params = (op) => op.inputParameters ?? [];
const pathVars = (p) => [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
const where = (x) => `${x.file}: ${x.op.method} ${x.resource.path} (${x.op.name})`;

// ---------------------------------------------------------------------------------------------

test('the yaml package is available to read the capability documents', () => {
  assert.ok(YAML, `npm package 'yaml' missing: ${yamlImportError?.message}`);
});

test('the seed tool list has the 29 cal_platform tools', () => {
  assert.equal(seedTools.titles.size, 29);
  assert.equal(seedTools.params.get('cal_platform_oauth_client_users_controller_update_user').length, 12);
  assert.deepEqual(seedTools.params.get('cal_platform_stripe_controller_save').map((p) => p.name), ['state', 'code']);
});

test('every capability document is naftiko 1.0.0-alpha2; the seed document is kept', () => {
  const names = docs().map((d) => d.file);
  assert.ok(names.includes('cal-com-managed-users.yaml'), 'the seed document is still there');
  for (const area of ['api-keys', 'me', 'oauth-clients', 'managed-users', 'oauth-client-webhooks', 'stripe', 'webhooks']) {
    assert.ok(names.includes(`${PLATFORM_PREFIX}${area}.yaml`), `capabilities/${PLATFORM_PREFIX}${area}.yaml exists`);
  }
  for (const d of docs()) {
    assert.equal(d.doc.naftiko, '1.0.0-alpha2', d.file);
    assert.ok(d.doc.info?.label, `${d.file}: info.label`);
  }
});

test('no document mentions the client-id header', () => {
  assert.ok(docFiles.length > 0);
  for (const file of docFiles) {
    const text = fs.readFileSync(path.join(capDir, file), 'utf8');
    assert.ok(!text.toLowerCase().includes(CLIENT_ID_HEADER), `${file} mentions ${CLIENT_ID_HEADER}`);
  }
});

test('every consumed operation exists in the OpenAPI document with its method and path', () => {
  const all = consumedOps();
  assert.ok(all.length >= 29);
  for (const x of all) {
    const s = specByName(x.op.name);
    assert.ok(s, `${where(x)}: no operationId whose lower-cased form is ${x.op.name}`);
    assert.equal(x.op.method, s.method, `${where(x)}: method of ${s.id}`);
    assert.equal(x.resource.path, s.path, `${where(x)}: path of ${s.id}`);
    assert.ok(spec.paths[x.resource.path]?.[x.op.method.toLowerCase()], `${where(x)}: method + path in the spec`);
  }
});

test('the platform documents consume each of the 29 operations exactly once', () => {
  const names = consumedOps(platformDocs()).map((x) => x.op.name).sort();
  const expected = [...seedTools.titles.keys()].map((t) => t.slice('cal_platform_'.length).replace(/_/g, '')).sort();
  assert.deepEqual(names, expected);
});

test('required path parameters are produced (and the spec\'s forgotten path parameters are declared)', () => {
  const seenUndeclared = {};
  for (const x of consumedOps()) {
    const s = specByName(x.op.name);
    const declared = (s.op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
    const inTemplate = pathVars(s.path);
    // every declared path parameter is in the template
    for (const n of declared) assert.ok(inTemplate.includes(n), `${s.id}: spec path param ${n} not in ${s.path}`);
    const undeclared = inTemplate.filter((n) => !declared.includes(n));
    if (undeclared.length) seenUndeclared[s.id] = undeclared;
    for (const n of inTemplate) {
      const p = params(x.op).find((q) => q.name === n && q.in === 'path');
      assert.ok(p, `${where(x)}: path parameter ${n} is not produced`);
      assert.equal(p.required, true, `${where(x)}: path parameter ${n} must be required`);
    }
    for (const p of params(x.op).filter((q) => q.in === 'path')) {
      assert.ok(inTemplate.includes(p.name), `${where(x)}: path parameter ${p.name} is not in ${x.resource.path}`);
    }
  }
  // The known spec bug, asserted: the spec omits exactly these path parameters, and (above) the
  // capabilities declare every one of them as a required path parameter.
  const platformIds = new Set(consumedOps(platformDocs()).map((x) => specByName(x.op.name).id));
  const seenPlatform = Object.fromEntries(Object.entries(seenUndeclared).filter(([id]) => platformIds.has(id)));
  assert.deepEqual(seenPlatform, SPEC_UNDECLARED_PATH_PARAMS, 'spec path parameters missing from the Dec-2025 document');
  for (const [id, names] of Object.entries(SPEC_UNDECLARED_PATH_PARAMS)) {
    const s = specOps.get(id);
    for (const n of names) {
      assert.ok(!(s.op.parameters ?? []).some((p) => p.in === 'path' && p.name === n), `${id}: the spec lacks ${n}`);
      const x = consumedOps(platformDocs()).find((y) => y.op.name === opName(id));
      assert.ok(params(x.op).some((p) => p.in === 'path' && p.name === n && p.required === true), `${id}: capability has ${n}`);
    }
  }
});

test('required query parameters are produced, with the spec\'s types; extra ones are known', () => {
  for (const x of consumedOps()) {
    const s = specByName(x.op.name);
    const specQuery = (s.op.parameters ?? []).filter((p) => p.in === 'query');
    for (const q of specQuery) {
      const p = params(x.op).find((y) => y.in === 'query' && y.name === q.name);
      if (q.required) {
        assert.ok(p, `${where(x)}: required query parameter ${q.name} is not produced`);
        assert.equal(p.required, true, `${where(x)}: query parameter ${q.name} must be required`);
      }
      if (p) assert.equal(p.type, q.schema.type, `${where(x)}: type of query parameter ${q.name}`);
    }
    for (const p of params(x.op).filter((y) => y.in === 'query')) {
      if (specQuery.some((q) => q.name === p.name)) continue;
      assert.ok(
        (KNOWN_EXTRA_QUERY[s.id] ?? []).includes(p.name),
        `${where(x)}: query parameter ${p.name} is neither in the spec nor a known undocumented one`,
      );
    }
  }
  for (const [id, names] of Object.entries(KNOWN_EXTRA_QUERY)) {
    for (const n of names) {
      assert.ok(!(specOps.get(id).op.parameters ?? []).some((p) => p.name === n), `${id}: the spec still lacks ${n}`);
    }
  }
});

test('required headers are produced: by the authentication block, or a consumed header parameter', () => {
  for (const x of consumedOps()) {
    const s = specByName(x.op.name);
    for (const h of (s.op.parameters ?? []).filter((p) => p.in === 'header' && p.required)) {
      const byParam = params(x.op).some((p) => p.in === 'header' && p.name.toLowerCase() === h.name.toLowerCase());
      const auth = x.consumes.authentication;
      let byAuth = false;
      if (h.name.toLowerCase() === 'authorization') byAuth = auth?.type === 'bearer' && !!auth.token;
      else byAuth = auth?.type === 'apikey' && auth.placement === 'header' && auth.key?.toLowerCase() === h.name.toLowerCase() && !!auth.value;
      assert.ok(byParam || byAuth, `${where(x)}: required header ${h.name} is not produced`);
    }
  }
});

test('each platform consumes entry authenticates exactly as the spec asks (Bearer, secret, or none)', () => {
  const counts = { bearer: 0, apikey: 0, none: 0 };
  for (const x of consumedOps(platformDocs())) {
    const s = specByName(x.op.name);
    const headers = (s.op.parameters ?? []).filter((p) => p.in === 'header' && p.required).map((p) => p.name.toLowerCase());
    const auth = x.consumes.authentication;
    if (headers.includes('authorization')) {
      assert.deepEqual(auth, { type: 'bearer', token: '{{CAL_COM_API_KEY}}' }, `${where(x)}: Bearer API key`);
      counts.bearer++;
    } else if (headers.includes('x-cal-secret-key')) {
      assert.deepEqual(
        auth,
        { type: 'apikey', key: 'x-cal-secret-key', value: '{{CAL_COM_CLIENT_SECRET}}', placement: 'header' },
        `${where(x)}: OAuth client secret`,
      );
      counts.apikey++;
    } else {
      assert.equal(s.id, 'StripeController_save', `${s.id}: the only operation without authentication`);
      assert.equal(auth, undefined, `${where(x)}: no authentication block`);
      counts.none++;
    }
    assert.ok(x.consumes.namespace.startsWith(PLATFORM_PREFIX), `${where(x)}: namespace ${x.consumes.namespace}`);
    assert.equal(x.consumes.type, 'http');
    assert.equal(x.consumes.baseUri, 'https://api.cal.com');
    // the credential headers are never consumed parameters: the authentication block covers them
    for (const p of params(x.op)) {
      assert.ok(!['authorization', 'x-cal-secret-key'].includes(p.name.toLowerCase()), `${where(x)}: declares ${p.name}`);
      assert.ok(!(p.in === 'body' && p.name === 'body'), `${where(x)}: whole-body parameter instead of flat fields`);
    }
    assert.equal(x.op.outputRawFormat, 'json', where(x));
    assert.deepEqual(x.op.outputParameters, [{ name: 'result', type: 'object', value: '$.' }], where(x));
  }
  assert.deepEqual(counts, { bearer: 15, apikey: 13, none: 1 });
});

test('every {{VAR}} a document uses is bound in its binds', () => {
  for (const d of docs()) {
    const bound = new Set((d.doc.binds ?? []).flatMap((b) => Object.keys(b.keys ?? {})));
    const used = new Set([...JSON.stringify(d.doc.capability).matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)].map((m) => m[1]));
    for (const v of used) assert.ok(bound.has(v), `${d.file}: {{${v}}} is not bound`);
  }
});

test('required body fields are produced as flat body parameters, typed as the real API', () => {
  for (const x of consumedOps()) {
    const s = specByName(x.op.name);
    const schema = specBody(s.op);
    const bodyParams = params(x.op).filter((p) => p.in === 'body');
    const whole = bodyParams.find((p) => p.name === 'body');
    if (!schema) {
      assert.equal(bodyParams.length, 0, `${where(x)}: the spec has no request body`);
      continue;
    }
    const props = schema.properties ?? {};
    const required = schema.required ?? [];
    for (const f of required) {
      if (whole) continue; // the seed's whole-body parameter carries the caller's body as is
      const p = bodyParams.find((y) => y.name === f);
      assert.ok(p, `${where(x)}: required body field ${f} is not produced`);
      assert.equal(p.required, true, `${where(x)}: body field ${f} must be required`);
    }
    for (const p of bodyParams) {
      if (p.name === 'body') continue;
      if (!(p.name in props)) {
        assert.ok(
          (KNOWN_EXTRA_BODY[s.id] ?? []).includes(p.name),
          `${where(x)}: body field ${p.name} is neither in ${s.id}'s schema nor a known extra`,
        );
        assert.ok(p.required !== true, `${where(x)}: the extra field ${p.name} cannot be required`);
        continue;
      }
      if (p.required === true) assert.ok(required.includes(p.name), `${where(x)}: ${p.name} is required only where the API requires it`);
      const specType = props[p.name].type ?? 'object';
      if (SPEC_MISTYPED_BODY_FIELDS[p.name]) {
        const [wrong, real] = SPEC_MISTYPED_BODY_FIELDS[p.name];
        assert.equal(specType, wrong, `${s.id}: the spec still types ${p.name} as ${wrong}`);
        assert.equal(p.type, real, `${where(x)}: ${p.name} is sent as ${real} (the server validates @IsArray)`);
      } else {
        assert.equal(p.type, specType, `${where(x)}: type of body field ${p.name}`);
      }
    }
  }
  // The known bug, asserted: the spec types `triggers` as a string enum on all four webhook
  // bodies, and every platform capability sends it as an array.
  for (const id of SPEC_TRIGGERS_OPS) {
    const t = specBody(specOps.get(id).op).properties.triggers;
    assert.equal(t.type, 'string', `${id}: spec types triggers as string`);
    assert.ok(Array.isArray(t.enum) && t.enum.includes('BOOKING_CREATED'), `${id}: with the trigger enum`);
    const x = consumedOps(platformDocs()).find((y) => y.op.name === opName(id));
    assert.equal(params(x.op).find((p) => p.name === 'triggers' && p.in === 'body')?.type, 'array', `${id}: capability sends an array`);
    // and the extra `version`: not in the Dec-2025 schema, still sent
    assert.ok(!('version' in specBody(specOps.get(id).op).properties), `${id}: spec lacks version`);
    assert.ok(params(x.op).some((p) => p.name === 'version' && p.in === 'body'), `${id}: capability sends version`);
  }
});

test('stripe save: the spec documents a 200 JSON {url}; the real server redirects, and the capability passes it through', () => {
  const s = specOps.get('StripeController_save');
  assert.equal(s.method, 'GET');
  assert.equal(s.path, '/v2/stripe/save');
  // the known spec bug: only a 200 JSON response is declared, no 3xx
  assert.deepEqual(Object.keys(s.op.responses), ['200']);
  const schema = resolveSchema(s.op.responses['200'].content['application/json'].schema);
  assert.ok('url' in (schema.properties ?? {}), 'spec response carries url');
  // the capability: no authentication (Stripe's browser callback), the whole upstream document
  // is mapped (never $.url), and the document says why
  const d = platformDocs().find((x) => x.file === `${PLATFORM_PREFIX}stripe.yaml`);
  const x = consumedOps([d]).find((y) => y.op.name === 'stripecontrollersave');
  assert.equal(x.consumes.authentication, undefined);
  assert.notEqual(x.consumes.namespace, `${PLATFORM_PREFIX}stripe`, 'own consumes entry, apart from the Bearer ones');
  const tool = d.doc.capability.exposes.find((e) => e.type === 'mcp').tools.find((t) => t.name === 'cal_platform_stripe_controller_save');
  assert.deepEqual(tool.outputParameters, [{ type: 'object', mapping: '$.' }]);
  assert.match(d.text, /301 redirect/);
});

test('the 29 cal_platform tools equal the seed list, with exactly its parameters', () => {
  const tools = [];
  for (const d of platformDocs()) {
    for (const e of d.doc.capability.exposes ?? []) {
      if (e.type !== 'mcp') continue;
      for (const t of e.tools ?? []) tools.push({ d, e, t });
    }
  }
  const names = tools.map((x) => x.t.name);
  assert.equal(new Set(names).size, names.length, 'tool names are unique');
  assert.deepEqual([...names].sort(), [...seedTools.titles.keys()].sort());
  for (const { d, t } of tools) {
    const seed = seedTools.params.get(t.name);
    // Issue 11 item 7: the descriptions say what the API expects (schemas.test.mjs checks them
    // against the OpenAPI document); they start with the seed's text where it said something
    // (the seed's own typography aside), and never just repeat a parameter's name.
    const norm = (x) => x.replace(/[\u201c\u201d]/g, '"').replace(/\u2019/g, "'");
    assert.ok(t.description.startsWith(seedTools.titles.get(t.name)), `${t.name}: description ${t.description}`);
    assert.ok(Array.isArray(t.inputParameters), `${t.name}: inputParameters declared (also when empty)`);
    assert.deepEqual(
      t.inputParameters.map((p) => ({ name: p.name, type: p.type, required: p.required === true })),
      seed.map((p) => ({ name: p.name, type: p.type === 'any[]' ? 'array' : p.type, required: p.required })),
      `${t.name}: parameters`,
    );
    for (const p of t.inputParameters) {
      const sp = seed.find((x) => x.name === p.name);
      assert.notEqual(p.description, p.name, `${t.name}.${p.name}: a description, not the name`);
      if (sp.description !== sp.name) assert.ok(norm(p.description).startsWith(norm(sp.description)), `${t.name}.${p.name}: ${p.description}`);
    }
    // the call and its with
    const target = findConsumed(d, t.call);
    assert.ok(target, `${t.name}: call ${t.call} resolves in ${d.file}`);
    assert.equal(target.op.name, t.name.slice('cal_platform_'.length).replace(/_/g, ''), `${t.name}: calls its own operation`);
    const expectedWith = Object.fromEntries(seed.map((p) => [p.name, `tools.${p.name}`]));
    assert.deepEqual(t.with ?? {}, expectedWith, `${t.name}: with`);
    for (const k of Object.keys(t.with ?? {})) {
      assert.ok(params(target.op).some((p) => p.name === k), `${t.name}: with.${k} is a consumed parameter`);
    }
    assert.deepEqual(t.outputParameters, [{ type: 'object', mapping: '$.' }], `${t.name}: output`);
    // hints: readOnly for GET, destructive for DELETE, idempotent for GET/PUT/PATCH/DELETE.
    // Exception: stripe save is a GET that stores credentials and consumes a one-time code.
    const m = target.op.method;
    const expected =
      t.name === 'cal_platform_stripe_controller_save'
        ? { readOnly: false, destructive: false, idempotent: false, openWorld: true }
        : { readOnly: m === 'GET', destructive: m === 'DELETE', idempotent: ['GET', 'PUT', 'PATCH', 'DELETE'].includes(m), openWorld: true };
    assert.deepEqual(t.hints, expected, `${t.name}: hints`);
  }
});

test('each platform document has one MCP adapter served at /cal-platform', () => {
  for (const d of platformDocs()) {
    const area = d.file.slice(PLATFORM_PREFIX.length).replace(/\.ya?ml$/, '');
    const mcp = (d.doc.capability.exposes ?? []).filter((e) => e.type === 'mcp');
    assert.equal(mcp.length, 1, `${d.file}: one MCP adapter`);
    const e = mcp[0];
    assert.equal(e.namespace, `${PLATFORM_PREFIX}${area}-mcp`, d.file);
    assert.equal(e.port, 9090, d.file);
    assert.equal(e.transport, 'http', d.file);
    assert.equal(e.path, MCP_PATH, d.file);
    assert.ok(e.description, `${d.file}: MCP description`);
  }
});

test('REST adapters: /v1 + the upstream path, every consumed parameter mapped; no route declared twice', () => {
  const routes = new Map(); // "METHOD path" -> file
  for (const d of docs()) {
    for (const e of d.doc.capability.exposes ?? []) {
      if (e.type !== 'rest') continue;
      for (const r of e.resources ?? []) {
        for (const op of r.operations ?? []) {
          const key = `${op.method} ${r.path.toLowerCase()}`;
          assert.ok(!routes.has(key), `REST route ${key} is declared by ${routes.get(key)} and ${d.file}`);
          routes.set(key, d.file);
        }
      }
    }
  }
  for (const d of platformDocs()) {
    const area = d.file.slice(PLATFORM_PREFIX.length).replace(/\.ya?ml$/, '');
    const rest = (d.doc.capability.exposes ?? []).filter((e) => e.type === 'rest');
    if (area === 'managed-users') {
      // the seed document serves these 7 routes; this one exposes MCP tools only
      assert.equal(rest.length, 0, `${d.file}: no REST adapter (the seed's routes)`);
      assert.match(d.text.split('\nnaftiko:')[0], /REST/, `${d.file}: the top comment says why`);
      for (const x of consumedOps([d])) {
        const key = `${x.op.method} ${('/v1' + x.resource.path).toLowerCase()}`;
        assert.equal(routes.get(key), 'cal-com-managed-users.yaml', `${where(x)}: ${key} is served by the seed`);
      }
      continue;
    }
    assert.equal(rest.length, 1, `${d.file}: one REST adapter`);
    const e = rest[0];
    assert.equal(e.namespace, `${PLATFORM_PREFIX}${area}-rest`, d.file);
    assert.equal(e.port, 8080, d.file);
    const exposed = new Set();
    for (const r of e.resources) {
      for (const op of r.operations) {
        const target = findConsumed(d, op.call);
        assert.ok(target, `${d.file}: ${op.method} ${r.path}: call ${op.call} resolves`);
        assert.equal(op.method, target.op.method, `${d.file}: ${r.path} method`);
        assert.equal(op.name, target.op.name, `${d.file}: ${r.path} ${op.method} name`);
        const expectedPath = '/v1' + target.resource.path.replace(/\{(\w+)\}/g, (_, v) => `{${v.toLowerCase()}}`);
        assert.equal(r.path, expectedPath, `${d.file}: REST path of ${op.name}`);
        const expectedWith = Object.fromEntries(params(target.op).map((p) => [p.name, `rest.${p.name}`]));
        assert.deepEqual(op.with ?? {}, expectedWith, `${d.file}: ${op.method} ${r.path}: with`);
        assert.deepEqual(op.outputParameters, [{ type: 'object', mapping: '$.' }], `${d.file}: ${op.name} output`);
        exposed.add(op.call);
      }
    }
    for (const x of consumedOps([d])) {
      assert.ok(exposed.has(`${x.consumes.namespace}.${x.op.name}`), `${where(x)}: exposed over REST`);
    }
  }
});
