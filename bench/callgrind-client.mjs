// bench/callgrind-client.mjs: N requests over C keep-alive connections, for bench/callgrind-mcp.sh.
//   node callgrind-client.mjs rest <url> <n> <c>
//   node callgrind-client.mjs mcp <url> <n> <c> <session>
// Exits non-zero when any answer is not the expected one (200, and for MCP a result that is
// not an error), so a count of instructions never belongs to failing requests.
import http from 'node:http';

const [kind, url, nArg, cArg, session] = process.argv.slice(2);
const n = Number(nArg), c = Number(cArg);
if (!['rest', 'mcp'].includes(kind) || !url || !(n > 0) || !(c > 0)) {
  console.error('usage: callgrind-client.mjs rest|mcp <url> <n> <c> [session]');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call',
  params: { name: 'get-managed-user', arguments: { clientId: 'abc', userId: 42 } } });
const mcpHeaders = {
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'Mcp-Session-Id': session,
  'MCP-Protocol-Version': '2025-06-18',
  'Content-Length': Buffer.byteLength(body),
};

function one() {
  return new Promise((resolve, reject) => {
    const req = http.request(url, kind === 'rest' ? { agent } :
      { agent, method: 'POST', headers: mcpHeaders }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        if (kind === 'mcp' && (!text.includes('"content"') || text.includes('"isError":true')))
          return reject(new Error(`MCP answer: ${text.slice(0, 200)}`));
        resolve();
      });
    });
    req.on('error', reject);
    req.end(kind === 'mcp' ? body : undefined);
  });
}

let next = 0;
async function lane() {
  while (next < n) {
    next++;
    await one();
  }
}
try {
  await Promise.all(Array.from({ length: c }, lane));
} catch (e) {
  console.error(`callgrind-client: ${e.message}`);
  process.exit(1);
}
agent.destroy();
