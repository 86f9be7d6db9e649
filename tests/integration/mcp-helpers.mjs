// Helpers for the MCP integration tests (mcp.test.mjs): raw JSON-RPC over HTTP against the
// proxy's MCP listener, the official SDK clients over Streamable HTTP and over stdio, time-outs.
// Both SDK generations: `@modelcontextprotocol/sdk` 1.x (sdk: 1, the default) and the 2.x client
// package `@modelcontextprotocol/client` (sdk: 2); SDKS lists both for tests that run per client.
// Builds on the shared harness (capproxy.mjs, client.mjs, upstream.mjs); does not change it.

import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as Client2, StreamableHTTPClientTransport as StreamableHTTPClientTransport2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioClientTransport2 } from '@modelcontextprotocol/client/stdio';

import { binPath, buildEnv, repoRoot, sanitizerReport } from './capproxy.mjs';
import { request } from './client.mjs';

export const LATEST = '2025-11-25';
/** The SDK generations every client-facing test runs with: 1.x and 2.x. */
export const SDKS = [1, 2];
const sdkParts = (sdk) =>
  sdk === 2
    ? { Client: Client2, Http: StreamableHTTPClientTransport2, Stdio: StdioClientTransport2 }
    : { Client, Http: StreamableHTTPClientTransport, Stdio: StdioClientTransport };
export const ACCEPT_BOTH = 'application/json, text/event-stream';

// a slow (sanitizer) build gets more room
export const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** Reject when p does not settle within ms. */
export function withTimeout(p, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** The JSON-RPC messages in a text/event-stream body (the `data:` of each event). */
export function parseSse(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    try {
      out.push(JSON.parse(data));
    } catch {
      out.push({ unparsable: data });
    }
  }
  return out;
}

/**
 * POST one JSON-RPC message (or any body) to the MCP endpoint over a fresh connection.
 * msg: object/array (sent as JSON) or string/Buffer (sent as is).
 * opts: session (Mcp-Session-Id), version (MCP-Protocol-Version; default LATEST when a session is
 * given, false = none), headers (extra/overrides), path (default /mcp), method (default POST).
 * Resolves {status, headers, text, json, messages, msg}: msg is the (first) JSON-RPC message of
 * the answer, whether it came as application/json or as text/event-stream.
 */
export async function rpc(px, msg, opts = {}) {
  const { session, version, headers = {}, path: p = '/mcp', method = 'POST', timeoutMs = 10_000 * SCALE } = opts;
  const h = { 'content-type': 'application/json', accept: ACCEPT_BOTH };
  if (session) h['mcp-session-id'] = session;
  const v = version === undefined ? (session ? LATEST : false) : version;
  if (v) h['mcp-protocol-version'] = v;
  for (const [k, val] of Object.entries(headers)) {
    for (const key of Object.keys(h)) if (key.toLowerCase() === k.toLowerCase()) delete h[key];
    if (val !== null && val !== undefined) h[k] = val;
  }
  let body = msg;
  if (body !== undefined && !(typeof body === 'string' || Buffer.isBuffer(body))) body = JSON.stringify(body);
  const r = await request(px.mcpUrl, p, { method, headers: h, body, timeoutMs });
  const ct = String(r.headers['content-type'] || '');
  let messages = [];
  if (/^text\/event-stream/i.test(ct)) messages = parseSse(r.text);
  else if (r.json !== undefined) messages = [r.json];
  return { ...r, messages, msg: messages[0] };
}

/** "STATUS content-type body" for assertion messages. */
export function show(r) {
  return `HTTP ${r.status} content-type=${r.headers?.['content-type']} mcp-session-id=${r.headers?.['mcp-session-id']} body=${String(r.text).slice(0, 600)}`;
}

let nextId = 1;
export function initMsg(protocolVersion = LATEST, id = nextId++) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'capproxy-mcp-test', version: '0.0.0' } },
  };
}

export function req(method, params, id = nextId++) {
  const m = { jsonrpc: '2.0', id, method };
  if (params !== undefined) m.params = params;
  return m;
}

/** initialize + notifications/initialized; resolves {session, init (the initialize answer)}. */
export async function openSession(px, { path: p = '/mcp', protocolVersion = LATEST, headers } = {}) {
  const init = await rpc(px, initMsg(protocolVersion), { path: p, headers });
  if (init.status !== 200 || !init.headers['mcp-session-id']) {
    throw new Error(`initialize at ${p} failed: ${show(init)}`);
  }
  const session = init.headers['mcp-session-id'];
  const version = init.msg?.result?.protocolVersion || protocolVersion;
  const n = await rpc(px, { jsonrpc: '2.0', method: 'notifications/initialized' }, { path: p, session, version, headers });
  if (n.status !== 202 && n.status !== 200) throw new Error(`notifications/initialized at ${p} failed: ${show(n)}`);
  return { session, version, init };
}

// ---------------------------------------------------------------------------------------------
// the SDK client

/** Connect the official SDK client over Streamable HTTP. Resolves {client, transport, errors}. */
const CALL_TIMEOUT = 10_000 * SCALE;

/** Every tool of a connected SDK client, following nextCursor (bounded). */
export async function listAllTools(client) {
  const tools = [];
  let cursor;
  for (let i = 0; i < 20; i++) {
    const r = await withTimeout(client.listTools(cursor ? { cursor } : undefined, { timeout: CALL_TIMEOUT }), CALL_TIMEOUT + 2000, 'tools/list');
    tools.push(...r.tools);
    if (!r.nextCursor) break;
    cursor = r.nextCursor;
  }
  return tools;
}

/** tools/call through an SDK client, bounded. */
export function callTool(client, name, args) {
  return withTimeout(client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT }), CALL_TIMEOUT + 2000, `tools/call ${name}`);
}

export function showResult(res) {
  return JSON.stringify(res).slice(0, 800);
}

export async function connectHttp(url, { headers, timeoutMs = 10_000 * SCALE, sdk = 1 } = {}) {
  const { Client: C, Http } = sdkParts(sdk);
  const transport = new Http(new URL(url), headers ? { requestInit: { headers } } : {});
  const client = new C({ name: `capproxy-mcp-test-sdk${sdk}`, version: '0.0.0' });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  await withTimeout(client.connect(transport, { timeout: timeoutMs }), timeoutMs + 1000, `SDK client connect to ${url}`);
  return { client, transport, errors };
}

export async function closeClient(c) {
  if (!c) return;
  try {
    await withTimeout(c.client.close(), 5000 * SCALE, 'SDK client close');
  } catch {
    /* best effort */
  }
}

// ---------------------------------------------------------------------------------------------
// stdio: `capproxy mcp-stdio` spawned by the SDK's StdioClientTransport

const stdioChildren = new Set();
process.on('exit', () => {
  for (const pid of stdioChildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/**
 * Spawn `capproxy mcp-stdio [args]` (or, with subcommand null, `capproxy [args]`) through the SDK
 * and connect.
 * Resolves {client, transport, errors, lines (stderr), child, exit (promise of {code, signal})}.
 */
export async function connectStdio({ upstream, env: extra, args = [], timeoutMs = 15_000 * SCALE, sdk = 1, subcommand = 'mcp-stdio', command = binPath, cwd = repoRoot, rawEnv = null } = {}) {
  const { Client: C, Stdio } = sdkParts(sdk);
  // subcommand null: `args` are the whole command line (the run mode serving a stdio adapter);
  // rawEnv: exactly this environment (as a desktop client's configuration gives it), not the
  // test defaults.
  const transport = new Stdio({
    command,
    args: subcommand ? [subcommand, ...args] : args,
    env: rawEnv ?? buildEnv(extra, upstream),
    cwd,
    stderr: 'pipe',
  });
  const lines = [];
  let partial = '';
  const dir = process.env.CAPPROXY_LOG_DIR;
  let file = null;
  let pendingLog = null;
  transport.stderr.setEncoding?.('utf8');
  transport.stderr.on('data', (c) => {
    const s = String(c);
    if (file) fs.appendFileSync(file, s);
    else if (dir) (pendingLog ??= []).push(s);
    partial += s;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      lines.push(partial.slice(0, i).replace(/\r$/, ''));
      partial = partial.slice(i + 1);
    }
  });
  const client = new C({ name: `capproxy-mcp-test-stdio-sdk${sdk}`, version: '0.0.0' });
  const errors = [];
  client.onerror = (e) => errors.push(e);
  let child = null;
  let exit = null;
  const connecting = client.connect(transport, { timeout: timeoutMs });
  // the transport spawned the process synchronously in start(); keep hold of it
  child = transport._process || null;
  if (child) {
    stdioChildren.add(child.pid);
    exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    exit.then(() => stdioChildren.delete(child.pid));
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      file = path.join(dir, `capproxy-stdio-${process.pid}-${child.pid}.log`);
      fs.writeFileSync(file, (pendingLog || []).join(''));
    }
  }
  try {
    await withTimeout(connecting, timeoutMs + 1000, 'SDK stdio client connect');
  } catch (e) {
    await transport.close().catch(() => {});
    throw new Error(`${e.message}; capproxy mcp-stdio stderr:\n${lines.join('\n')}${partial}`);
  }
  return {
    client,
    transport,
    errors,
    lines,
    child,
    exit,
    stderr: () => lines.join('\n') + (partial ? `\n${partial}` : ''),
    sanitizer: () => sanitizerReport([...lines, partial]),
  };
}
