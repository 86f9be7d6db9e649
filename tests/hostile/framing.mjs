// Request framing and headers on the front end (issue 8, section 1). See README.md for the keys.
const GET = (ctx, extra = '') => `GET /v1/v2/oauth-clients/abc/users HTTP/1.1\r\nHost: ${ctx.host}\r\n${extra}\r\n`;

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
];
