// Inputs that must not be lost in silence, and JSON that must be JSON (issue 8, section 2, and
// the JSON-body and JSON-RPC-id bullets of section 1). See README.md for the keys.
// A few rows are guards that also passed before the fixes (arrays still join their repeats,
// trailing whitespace and +json media types are still JSON, a form body without Content-Type is
// still 400, the 1.5 / long / escaped ids still echo): they keep the new refusals from
// refusing too much.

// One request with a body (latin1 string, so '\xff' is the byte 0xFF); Content-Length computed.
const send = (ctx, method, path, body = '', headers = '') =>
  `${method} ${path} HTTP/1.1\r\nHost: ${ctx.host}\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`;
const JSON_CT = 'Content-Type: application/json\r\n';
const BEARER = 'Authorization: Bearer cal_hostile_test\r\n';
const USERS = '/v1/v2/oauth-clients/abc/users';
const ME = '/v1/v2/me';

// An MCP POST of one JSON-RPC message (a string, sent byte for byte).
const mcp = (ctx, body, path = '/mcp') =>
  `POST ${path} HTTP/1.1\r\n${ctx.mcpHeaders}Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
const call = (ctx, name, args, id = 1) =>
  mcp(ctx, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }));

// What the upstream received: exactly one request, whose body is <want> (text).
const upstreamBody = (want) => (records) => {
  if (records.length !== 1) throw new Error(`upstream received ${records.length} request(s), want 1`);
  if (records[0].bodyText !== want) throw new Error(`upstream body ${JSON.stringify(records[0].bodyText)}, want ${JSON.stringify(want)}`);
};
// The reply's text holds <s> as written (for what JSON.parse would round).
const rawHas = (s) => (res) => {
  if (!res.text.includes(s)) throw new Error(`reply must contain ${s}: ${res.text.slice(0, 400)}`);
};

const BIG = '{"status":"success","data":{"id":12345678901234567890,"n":-9007199254740993,"m":9007199254740991,"s":"12345678901234567891"}}';

export default [
  // ---- unknown inputs: refused naming them, with "did you mean" ----
  {
    name: 'PATCH /v2/me with a misspelt field (timezone) is refused naming timeZone, nothing upstream',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"timezone":"Europe/Paris"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /unknown body field 'timezone' \(did you mean 'timeZone'\?\)/ },
  },
  {
    name: 'a body field no input reads is refused, listing what the operation accepts',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A","favouriteColour":"red"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /unknown body field 'favouriteColour' \(accepted: .*timeZone/ },
  },
  {
    name: 'a body field given twice is refused (only the first would be read)',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A","name":"B"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /'name' was given twice/ },
  },
  {
    name: 'a JSON body that is not an object, for an operation of named fields, is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '[{"name":"A"}]', JSON_CT + BEARER),
    expect: { status: 400, problem: /must be a JSON object/ },
  },
  {
    name: 'a misspelt query parameter (limt) is refused naming limit, nothing upstream',
    raw: (ctx) => send(ctx, 'GET', `${USERS}?limt=10`),
    expect: { status: 400, problem: /unknown query parameter 'limt' \(did you mean 'limit'\?\)/ },
  },
  {
    name: 'a query parameter no input reads is refused',
    raw: (ctx) => send(ctx, 'GET', `${USERS}?limit=10&debug=1`),
    expect: { status: 400, problem: /unknown query parameter 'debug'/ },
  },
  {
    name: 'a body sent to an operation that reads none is refused, not dropped',
    raw: (ctx) => send(ctx, 'GET', USERS, '{"limit":5,"verbose":true}', JSON_CT),
    expect: { status: 400, problem: /unknown body field 'verbose'/ },
  },
  {
    name: 'a query parameter name with %00 (limit%00x) is refused, not read as limit',
    raw: (ctx) => send(ctx, 'GET', `${USERS}?limit%00x=5`),
    expect: { status: 400, problem: /query parameter name holds %00/ },
  },
  {
    name: 'a scalar query parameter given twice (limit=10&limit=20) is refused as such',
    raw: (ctx) => send(ctx, 'GET', `${USERS}?limit=10&limit=20`),
    expect: { status: 400, problem: /'limit' was given 2 times; it takes one value/ },
  },
  {
    name: 'an array query parameter given twice is joined (emails=a&emails=b)',
    raw: (ctx) => send(ctx, 'GET', `${USERS}?emails=a%40x.test&emails=b%40x.test`),
    expect: { status: 200 },
    upstream: (records) => {
      const q = records.length === 1 ? new URL(records[0].url, 'http://u').searchParams : null;
      if (!q || q.get('emails') !== 'a@x.test,b@x.test')
        throw new Error(`upstream: ${records.map((r) => r.url).join(', ')}`);
    },
  },
  // ---- bodies: always a JSON object where the API wants one ----
  {
    name: 'PATCH /v2/me without any body sends {} upstream (the API refuses a missing body)',
    raw: (ctx) => send(ctx, 'PATCH', ME, '', BEARER),
    expect: { status: 200 },
    upstream: upstreamBody('{}'),
  },
  {
    name: 'POST /v2/api-keys/refresh with an empty object sends {}',
    raw: (ctx) => send(ctx, 'POST', '/v1/v2/api-keys/refresh', '{}', JSON_CT + BEARER),
    expect: { status: 200 },
    upstream: upstreamBody('{}'),
  },
  {
    name: 'an integer beyond 2^53 in a body field goes upstream with all its digits',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"defaultScheduleId":12345678901234567890}', JSON_CT + BEARER),
    expect: { status: 200 },
    upstream: upstreamBody('{"defaultScheduleId":12345678901234567890}'),
  },
  // ---- JSON bodies: one JSON value, UTF-8, a JSON media type ----
  {
    name: 'bytes after the JSON value ({...} xyz) are refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A"} xyz', JSON_CT + BEARER),
    expect: { status: 400, problem: /bytes after its JSON value/ },
  },
  {
    name: 'a second JSON value after the first is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A"}{"name":"B"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /bytes after its JSON value/ },
  },
  {
    name: 'trailing whitespace after the JSON value is fine',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A"} \r\n\t', JSON_CT + BEARER),
    expect: { status: 200 },
    upstream: upstreamBody('{"name":"A"}'),
  },
  {
    name: 'invalid UTF-8 in a JSON string (0xFF) is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A\xff"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /not valid UTF-8/ },
  },
  {
    name: 'an overlong UTF-8 encoding (C0 AF for "/") is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"..\xc0\xaf.."}', JSON_CT + BEARER),
    expect: { status: 400, problem: /not valid UTF-8/ },
  },
  {
    name: 'a UTF-16 surrogate encoded as UTF-8 (ED A0 80) is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"\xed\xa0\x80"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /not valid UTF-8/ },
  },
  {
    name: 'a raw tab inside a JSON string is not JSON (cJSON would take it): 400',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A\tB"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /a control character at byte 10/ },
  },
  {
    name: 'a raw control character between JSON tokens (0x01, whitespace to cJSON) is refused',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{\x01"name":"A"}', JSON_CT + BEARER),
    expect: { status: 400, problem: /a control character at byte 1/ },
  },
  {
    name: 'a form-encoded body without Content-Type is not JSON: 400',
    raw: (ctx) => send(ctx, 'PATCH', ME, 'name=A', BEARER),
    expect: { status: 400, problem: /not valid JSON/ },
  },
  {
    name: 'Content-Type text/plain on a JSON operation: 415 naming Content-Type',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A"}', 'Content-Type: text/plain\r\n' + BEARER),
    expect: { status: 415, problem: 'Content-Type' },
  },
  {
    name: 'Content-Type application/x-www-form-urlencoded: 415',
    raw: (ctx) => send(ctx, 'PATCH', ME, 'name=A', 'Content-Type: application/x-www-form-urlencoded\r\n' + BEARER),
    expect: { status: 415, problem: 'Content-Type' },
  },
  {
    name: 'Content-Type application/merge-patch+json; charset=utf-8 counts as JSON',
    raw: (ctx) => send(ctx, 'PATCH', ME, '{"name":"A"}', 'Content-Type: Application/Merge-Patch+JSON; charset=utf-8\r\n' + BEARER),
    expect: { status: 200 },
    upstream: upstreamBody('{"name":"A"}'),
  },
  // ---- MCP: unknown arguments, upstream status, Location, big integers ----
  {
    name: 'an MCP tool argument the tool does not read (timezone) is a tool error naming timeZone',
    port: 'mcp',
    raw: (ctx) => call(ctx, 'cal_platform_me_controller_update_me', { timezone: 'Europe/Paris' }),
    expect: { status: 200, jsonrpc: { isError: true, text: /unknown argument 'timezone' \(did you mean 'timeZone'\?\)/ } },
  },
  {
    name: 'a credential header name is not a tool argument either',
    port: 'mcp',
    raw: (ctx) => call(ctx, 'get-managed-user', { clientId: 'c', userId: 5, 'x-cal-secret-key': 'from-args' }),
    expect: { status: 200, jsonrpc: { isError: true, text: /unknown argument 'x-cal-secret-key'/ } },
  },
  {
    name: 'an upstream 404 is a tool error naming the status and carrying the body',
    port: 'mcp',
    handle: () => ({ status: 404, body: { status: 'error', error: { code: 'NotFoundException' } } }),
    raw: (ctx) => call(ctx, 'get-managed-user', { clientId: 'c', userId: 5 }),
    expect: {
      status: 200,
      jsonrpc: { isError: true, text: /NotFoundException[\s\S]*upstream answered 404 Not Found/ },
      check: (res) => {
        if (res.json.result._meta?.upstreamStatus !== 404) throw new Error(`_meta: ${res.text}`);
      },
    },
    upstream: 1,
  },
  {
    name: "the Stripe save callback's 301 gives a tool result with its Location",
    port: 'mcp',
    handle: () => ({ status: 301, headers: { location: 'https://app.example.test/settings?stripe=ok' }, body: '' }),
    raw: (ctx) => call(ctx, 'cal_platform_stripe_controller_save', { state: '{"returnTo":"x"}', code: 'ac_1' }),
    expect: {
      status: 200,
      jsonrpc: { isError: false, text: /upstream answered 301 Moved Permanently; Location: https:\/\/app\.example\.test\/settings\?stripe=ok/ },
      check: (res) => {
        const m = res.json.result._meta || {};
        if (m.upstreamStatus !== 301 || m.upstreamLocation !== 'https://app.example.test/settings?stripe=ok') throw new Error(`_meta: ${res.text}`);
      },
    },
    upstream: 1,
  },
  {
    name: 'integers beyond 2^53 keep their digits in structuredContent',
    port: 'mcp',
    handle: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: BIG }),
    raw: (ctx) => call(ctx, 'get-managed-user', { clientId: 'c', userId: 5 }),
    expect: {
      status: 200,
      jsonrpc: { isError: false },
      check: (res) => {
        const sc = res.text.slice(res.text.indexOf('"structuredContent"'));
        for (const s of ['"id":12345678901234567890', '"n":-9007199254740993', '"m":9007199254740991', '"s":"12345678901234567891"'])
          if (!sc.includes(s)) throw new Error(`structuredContent must keep ${s}: ${sc.slice(0, 300)}`);
      },
    },
    upstream: 1,
  },
  {
    name: 'an integer beyond 2^53 in a tool argument goes upstream with all its digits',
    port: 'mcp',
    raw: (ctx) =>
      mcp(ctx, '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"cal_platform_me_controller_update_me","arguments":{"defaultScheduleId":9007199254740993}}}'),
    env: { CAL_COM_API_KEY: 'cal_hostile_test' },
    expect: { status: 200, jsonrpc: { isError: false } },
    upstream: upstreamBody('{"defaultScheduleId":9007199254740993}'),
  },
  // ---- JSON-RPC ids: echoed exactly or refused; the reply is always JSON ----
  {
    name: 'id 1e400 (infinity for a double) is refused with -32600, never "id":inf',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":1e400,"method":"ping"}'),
    expect: { status: 400, jsonrpc: { code: -32600 }, check: rawHas('"id":null') },
  },
  {
    name: 'id 12345678901234567890 is echoed with all its digits',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}'),
    expect: { status: 200, check: rawHas('"id":12345678901234567890,') },
  },
  {
    name: 'id -0 is echoed as -0',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":-0,"method":"ping"}'),
    expect: { status: 200, check: rawHas('"id":-0,') },
  },
  {
    name: 'id 1.5 is echoed as 1.5',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":1.5,"method":"ping"}'),
    expect: { status: 200, check: rawHas('"id":1.5,') },
  },
  {
    name: 'a number cJSON takes but JSON does not (01) is no id: -32600',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":01,"method":"ping"}'),
    expect: { status: 400, jsonrpc: { code: -32600 } },
  },
  {
    name: 'a long string id is echoed whole',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, `{"jsonrpc":"2.0","id":"${'k'.repeat(5000)}","method":"ping"}`),
    expect: {
      status: 200,
      check: (res) => {
        if (res.json.id !== 'k'.repeat(5000)) throw new Error(`id not echoed: ${res.text.slice(0, 100)}`);
      },
    },
  },
  {
    name: 'a string id with unicode escapes comes back as the same string',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":"\\u00e9\\ud83d\\ude00\\"\\\\","method":"ping"}'),
    expect: {
      status: 200,
      check: (res) => {
        if (res.json.id !== 'é😀"\\') throw new Error(`id: ${JSON.stringify(res.json.id)}`);
      },
    },
  },
  {
    name: 'a JSON-RPC message with invalid UTF-8 is a parse error (-32700)',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":"\xff","method":"ping"}'),
    expect: { status: 400, jsonrpc: { code: -32700 } },
  },
  {
    name: 'a JSON-RPC message with a raw control character in a string is a parse error (-32700)',
    port: 'mcp',
    raw: (ctx) => mcp(ctx, '{"jsonrpc":"2.0","id":"a\x1fb","method":"ping"}'),
    expect: { status: 400, jsonrpc: { code: -32700 } },
  },
];
