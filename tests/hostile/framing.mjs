// Request framing and headers on the front end (issue 8, section 1). See README.md for the keys.
// Every refusal is an application/problem+json answer naming the header, nothing goes upstream,
// and the connection is closed: after a framing error the rest of the bytes cannot be trusted.
const PATH = '/v1/v2/oauth-clients/abc/users';
const GET = (ctx, extra = '') => `GET ${PATH} HTTP/1.1\r\nHost: ${ctx.host}\r\n${extra}\r\n`;
const POST = (ctx, extra, body = '') => `POST ${PATH} HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Type: application/json\r\n${extra}\r\n${body}`;
// a complete second request hidden in a body: if the body is misread it is forwarded with the secret
const SMUGGLED = `GET /v1/v2/oauth-clients/smuggled/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
const JSON_BODY = '{"email":"a@example.com"}';
const chunked = (s) => `${s.length.toString(16)}\r\n${s}\r\n0\r\n\r\n`;
const refused = (status, problem) => ({ status, problem, closed: true });
const manyHeaders = (n) => Array.from({ length: n }, (_, i) => `X-Filler-${i}: ${i}\r\n`).join('');
// one byte at a time, <ms> apart
const trickle = (s, ms) => [...s].map((b) => ({ bytes: b, delayMs: ms }));
const SLOW = { CAPPROXY_HEADER_TIMEOUT: '1s', CAPPROXY_BODY_TIMEOUT: '1s' };

export default [
  {
    name: 'two Content-Length headers with different values',
    raw: (ctx) => `POST /v1/v2/oauth-clients/abc/users HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    expect: { status: 400, problem: 'Content-Length', closed: true },
  },
  {
    name: 'a plain GET still goes through (the table is not refusing everything)',
    raw: (ctx) => GET(ctx),
    expect: { status: 200 },
    upstream: 1,
  },
  {
    name: 'an MCP request for an unknown method gets -32601, nothing upstream',
    port: 'mcp',
    raw: (ctx) => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"no/such"}';
      return `POST /mcp HTTP/1.1\r\n${ctx.mcpHeaders}Content-Length: ${body.length}\r\n\r\n${body}`;
    },
    expect: { status: 200, jsonrpc: { code: -32601 } },
  },

  // ---- smuggling: Transfer-Encoding and Content-Length ----
  {
    name: 'Transfer-Encoding: gzip, its body a second request: 400, the hidden request is not forwarded',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: gzip\r\n', SMUGGLED),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'Transfer-Encoding: chunked, gzip (chunked not alone): 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked, gzip\r\n', chunked(JSON_BODY)),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'Transfer-Encoding: identity: 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: identity\r\n', SMUGGLED),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'Transfer-Encoding: chunked together with Content-Length: 400',
    raw: (ctx) => POST(ctx, `Transfer-Encoding: chunked\r\nContent-Length: ${JSON_BODY.length}\r\n`, chunked(JSON_BODY)),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'two Transfer-Encoding headers: 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', chunked(JSON_BODY)),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'Transfer-Encoding in an HTTP/1.0 request: 400',
    raw: (ctx) => `POST ${PATH} HTTP/1.0\r\nHost: ${ctx.host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(JSON_BODY)}`,
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'Transfer-Encoding:<TAB>chunked (evhttp keeps the tab and reads no body): 400, the chunked body is not a second request',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding:\tchunked\r\n', `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`),
    expect: refused(400, 'Transfer-Encoding'),
  },
  {
    name: 'a HEAD request with a body (evhttp reads none): 400, the body is not a second request',
    raw: (ctx) => `HEAD ${PATH} HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    expect: refused(400, 'HEAD'),
  },
  {
    name: 'whitespace between a header name and the colon (Content-Length : 5): 400 (RFC 9112 5.1)',
    raw: (ctx) => POST(ctx, `Content-Length : ${JSON_BODY.length}\r\n`, JSON_BODY),
    expect: refused(400, /Content-Length.*colon/),
  },
  {
    name: 'a signed Content-Length (+25): 400',
    raw: (ctx) => POST(ctx, `Content-Length: +${JSON_BODY.length}\r\n`, JSON_BODY),
    expect: refused(400, 'Content-Length'),
  },
  {
    name: 'a chunk size with a 0x prefix: 400, not 200',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `0x${JSON_BODY.length.toString(16)}\r\n${JSON_BODY}\r\n0\r\n\r\n`),
    expect: refused(400, 'chunk size'),
  },
  {
    name: 'a negative chunk size (-1): 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `-1\r\n${JSON_BODY}\r\n0\r\n\r\n`),
    expect: refused(400, 'chunk size'),
  },
  {
    name: 'a chunk size that is not hex (zz): 400, not an HTML 413',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `zz\r\n${JSON_BODY}\r\n0\r\n\r\n`),
    expect: refused(400, 'chunk size'),
  },
  {
    name: 'a chunk extension (evhttp misreads the size line): 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `${JSON_BODY.length.toString(16)};x=1\r\n${JSON_BODY}\r\n0\r\n\r\n`),
    expect: refused(400, 'chunk size'),
  },
  {
    name: 'chunk data longer than its size: 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `3\r\n${JSON_BODY}\r\n0\r\n\r\n`),
    expect: refused(400, 'chunk data'),
  },
  {
    name: 'a trailer field after the last chunk (it would join the checked headers): 400',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `${JSON_BODY.length.toString(16)}\r\n${JSON_BODY}\r\n0\r\nX-Cal-Secret-Key: from-trailer\r\n\r\n`),
    expect: refused(400, 'trailer'),
  },
  {
    name: 'a chunk size over the body limit: a JSON 413, not the HTML page',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `fffffff\r\n${JSON_BODY}`),
    expect: refused(413, 'body'),
  },
  {
    name: 'a Content-Length over the body limit: a JSON 413 at once, before the body is read',
    raw: (ctx) => POST(ctx, 'Content-Length: 999999999\r\n', JSON_BODY),
    expect: { ...refused(413, 'Content-Length'), withinMs: 1000 },
  },
  {
    name: 'a well-formed chunked body still goes through, as one request',
    raw: (ctx) => POST(ctx, 'Transfer-Encoding: chunked\r\n', `5\r\n${JSON_BODY.slice(0, 5)}\r\n${(JSON_BODY.length - 5).toString(16)}\r\n${JSON_BODY.slice(5)}\r\n0\r\n\r\n`),
    expect: { status: 200 },
    upstream: (records) => {
      if (records.length !== 1 || JSON.parse(records[0].bodyText).email !== 'a@example.com') throw new Error(`upstream got ${JSON.stringify(records.map((r) => r.bodyText))}`);
    },
  },

  // ---- header values and count ----
  {
    name: 'a NUL inside a header value (abc\\0def): 400 naming the header, not forwarded as abc',
    raw: (ctx) => GET(ctx, 'X-Cal-Secret-Key: abc\0def\r\n'),
    expect: refused(400, 'X-Cal-Secret-Key'),
  },
  {
    name: 'a bare CR inside a header value: 400',
    raw: (ctx) => GET(ctx, 'X-Cal-Secret-Key: abc\rdef\r\n'),
    expect: refused(400, 'X-Cal-Secret-Key'),
  },
  {
    name: 'a bare LF inside a header value (a header hidden in a value): 400',
    raw: (ctx) => GET(ctx, 'X-Note: abc\nX-Cal-Secret-Key: injected\r\n'),
    expect: refused(400, 'X-Note'),
  },
  {
    name: 'another control character (0x01) in a header value: 400',
    raw: (ctx) => GET(ctx, 'X-Note: a\x01b\r\n'),
    expect: refused(400, 'X-Note'),
  },
  {
    name: 'obsolete line folding (a header line starting with a space): 400',
    raw: (ctx) => GET(ctx, 'X-Note: a\r\n folded\r\n'),
    expect: refused(400, 'folding'),
  },
  {
    name: 'a header name with a character that is not a token (X@Note): 400',
    raw: (ctx) => GET(ctx, 'X@Note: a\r\n'),
    expect: refused(400, 'header name'),
  },
  {
    name: 'more header fields than limits.maxHeaders (100): 431, never a silent cut',
    raw: (ctx) => GET(ctx, `${manyHeaders(100)}X-Cal-Secret-Key: callers-own\r\n`),
    expect: refused(431, 'header fields'),
  },
  {
    name: 'with limits.maxHeaders raised to 200, 150 headers pass whole: the caller\'s own key (the last one) is the one sent',
    env: { CAPPROXY_MAX_HEADERS: '200' },
    raw: (ctx) => GET(ctx, `${manyHeaders(148)}X-Cal-Secret-Key: callers-own\r\n`),
    expect: { status: 200 },
    upstream: (records) => {
      const k = records.length === 1 && records[0].headers['x-cal-secret-key'];
      if (k !== 'callers-own') throw new Error(`upstream got x-cal-secret-key ${JSON.stringify(k)} in ${records.length} request(s)`);
    },
  },

  // ---- Host ----
  {
    name: 'REST: HTTP/1.1 without Host: 400',
    raw: `GET ${PATH} HTTP/1.1\r\n\r\n`,
    expect: refused(400, 'Host'),
  },
  {
    name: 'REST: two Host headers: 400',
    raw: (ctx) => GET(ctx, 'Host: evil.example\r\n'),
    expect: refused(400, 'Host'),
  },
  {
    name: 'REST: a control character in Host: 400',
    raw: `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\x01evil\r\n\r\n`,
    expect: refused(400, 'Host'),
  },
  {
    name: 'REST: a space inside Host: 400',
    raw: `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1 evil.example\r\n\r\n`,
    expect: refused(400, 'Host'),
  },
  {
    name: 'MCP: HTTP/1.1 without Host: 400',
    port: 'mcp',
    raw: (ctx) => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
      return `POST /mcp HTTP/1.1\r\n${ctx.mcpHeaders.replace(/^Host: [^\r]*\r\n/, '')}Content-Length: ${body.length}\r\n\r\n${body}`;
    },
    expect: refused(400, 'Host'),
  },
  {
    name: 'MCP: a valid Host followed by a foreign one (DNS rebinding): 400, not passed on the first',
    port: 'mcp',
    raw: (ctx) => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
      return `POST /mcp HTTP/1.1\r\n${ctx.mcpHeaders}Host: evil.example\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    },
    expect: refused(400, 'Host'),
  },
  {
    name: 'MCP: an allowed Origin followed by a foreign one: 400, not passed on the first',
    port: 'mcp',
    raw: (ctx) => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
      return `POST /mcp HTTP/1.1\r\n${ctx.mcpHeaders}Origin: http://localhost\r\nOrigin: http://evil.example\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    },
    expect: refused(400, 'Origin'),
  },
  {
    name: 'MCP: a control character in Host: 400',
    port: 'mcp',
    raw: (ctx) => {
      const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
      return `POST /mcp HTTP/1.1\r\n${ctx.mcpHeaders.replace(/^Host: ([^\r]*)\r\n/, 'Host: $1\x7f\r\n')}Content-Length: ${body.length}\r\n\r\n${body}`;
    },
    expect: refused(400, 'Host'),
  },

  // ---- request line and refused methods ----
  {
    name: 'CONNECT: the error is sent and the socket closed at once',
    raw: 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n',
    expect: { ...refused(501, 'CONNECT'), withinMs: 1000 },
  },
  {
    name: 'TRACE: the error is sent and the socket closed at once',
    raw: (ctx) => `TRACE ${PATH} HTTP/1.1\r\nHost: ${ctx.host}\r\n\r\n`,
    expect: { ...refused(501, 'TRACE'), withinMs: 1000 },
  },
  {
    name: 'HTTP/2.0 on the request line: 505',
    raw: (ctx) => `GET ${PATH} HTTP/2.0\r\nHost: ${ctx.host}\r\n\r\n`,
    expect: refused(505, 'HTTP'),
  },
  {
    name: 'an absolute-form target naming another host: 400',
    raw: (ctx) => `GET http://evil.example${PATH} HTTP/1.1\r\nHost: ${ctx.host}\r\n\r\n`,
    expect: refused(400, 'target'),
  },
  {
    name: 'an Expect other than 100-continue: 417',
    raw: (ctx) => POST(ctx, `Expect: 200-ok\r\nContent-Length: ${JSON_BODY.length}\r\n`, JSON_BODY),
    expect: refused(417, 'Expect'),
  },
  {
    name: 'Expect: 100-continue gets the 100 before the body is sent, then the answer',
    chunks: [
      { bytes: (ctx) => POST(ctx, `Expect: 100-continue\r\nContent-Length: ${JSON_BODY.length}\r\n`), delayMs: 0 },
      { bytes: JSON_BODY, delayMs: 300 },
    ],
    expect: { interim: [100], status: 200 },
    upstream: 1,
  },

  // ---- slow clients (headerTimeout and bodyTimeout of 1 s) ----
  {
    name: 'a head sent one byte every 100 ms: 408 when the head deadline passes, not kept forever',
    env: SLOW,
    chunks: trickle(`GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(60)}\r\n\r\n`, 100),
    expect: { status: 408, problem: 'head', closed: true, withinMs: 2500 },
  },
  {
    name: 'a body sent one byte every 100 ms: 408 when the body deadline passes',
    env: SLOW,
    chunks: [
      { bytes: `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n`, delayMs: 0 },
      ...trickle(`{"email":"${'s'.repeat(47)}"}`, 100),
    ],
    expect: { status: 408, problem: 'body', closed: true, withinMs: 2500 },
  },
  {
    name: 'a connection that sends nothing: 408 and closed after the head deadline (counted from accept)',
    env: SLOW,
    chunks: [],
    expect: { status: 408, problem: 'head', closed: true, withinMs: 2500 },
  },
  {
    name: 'a partial head, then silence: 408 after the head deadline, not the 30 s idle time-out',
    env: SLOW,
    chunks: [{ bytes: `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, delayMs: 0 }],
    expect: { status: 408, problem: 'head', closed: true, withinMs: 2500 },
  },
  {
    name: 'a partial head pipelined behind a request whose upstream is slow: its deadline passes meanwhile, the first is still answered, no crash',
    env: SLOW,
    handle: () => ({ delayMs: 1500 }),
    raw: `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET ${PATH} HTTP/1.1\r\nHost: 1`,
    expect: { status: 200 },
    upstream: 1,
  },
  {
    name: 'bodyTimeout 0 turns the body deadline off: a body 1.3 s after its head still goes through',
    env: { CAPPROXY_HEADER_TIMEOUT: '1s', CAPPROXY_BODY_TIMEOUT: '0' },
    chunks: [
      { bytes: `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${JSON_BODY.length}\r\n\r\n`, delayMs: 0 },
      { bytes: JSON_BODY, delayMs: 1300 },
    ],
    expect: { status: 200 },
    upstream: 1,
  },
  {
    name: 'a request that completes within the deadlines still goes through',
    env: SLOW,
    chunks: [
      { bytes: `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, delayMs: 0 },
      { bytes: '\r\n', delayMs: 300 },
    ],
    expect: { status: 200 },
    upstream: 1,
  },
];
