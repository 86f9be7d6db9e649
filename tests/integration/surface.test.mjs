// One endpoint, one clear surface (issue 11 items 4 and 9), against the real binary and the
// recording upstream, with both SDK clients:
//   - /mcp over the shipped documents lists each upstream operation once (the 29 cal_platform
//     tools; the seed's 7 managed-users tools stay callable by name and are listed at their own
//     /mcp/<namespace>), and its instructions name every adapter;
//   - /cal-platform/mcp serves the same tool set as /cal-platform;
//   - a document with `transport: stdio` is served by `capproxy -c ... doc` on stdin/stdout,
//     next to its REST listener, and the process exits when stdin closes; two are a load error;
//   - the README's MCP client configuration snippets: each stdio one started exactly as written
//     from another working directory, each URL checked against a running capproxy.
import { describe, test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startUpstream } from './upstream.mjs';
import { startProxy, runCapproxy, repoRoot, binPath, sanitizerReport } from './capproxy.mjs';
import { request } from './client.mjs';
import { SDKS, SCALE, withTimeout, connectHttp, connectStdio, closeClient, listAllTools, callTool, showResult } from './mcp-helpers.mjs';

const T = { timeout: 30_000 * SCALE };
const SECRET = 'surface-DISTINCT-client-secret-61d0';
const API_KEY = 'cal_surface-DISTINCT-api-key-93ab';

// The seed's tools and the cal_platform tool sending the same upstream request.
const SEED_TWINS = {
  'get-all-managed-users': 'cal_platform_oauth_client_users_controller_get_managed_users',
  'create-managed-user': 'cal_platform_oauth_client_users_controller_create_user',
  'get-managed-user': 'cal_platform_oauth_client_users_controller_get_user_by_id',
  'update-managed-user': 'cal_platform_oauth_client_users_controller_update_user',
  'delete-managed-user': 'cal_platform_oauth_client_users_controller_delete_user',
  'force-refresh-tokens': 'cal_platform_oauth_client_users_controller_force_refresh',
  'refresh-managed-user-tokens': 'cal_platform_oauth_flow_controller_refresh_tokens',
};
const MCP_ADAPTERS = [
  'cal-com-deprecated-platform-managed-users-mcp',
  'cal-com-platform-api-keys-mcp',
  'cal-com-platform-managed-users-mcp',
  'cal-com-platform-me-mcp',
  'cal-com-platform-oauth-client-webhooks-mcp',
  'cal-com-platform-oauth-clients-mcp',
  'cal-com-platform-stripe-mcp',
  'cal-com-platform-webhooks-mcp',
];

function nameSet(tools) {
  return tools.map((t) => t.name).sort();
}

describe('one clear surface: the shipped documents', () => {
  let up, px;
  before(async () => {
    up = await startUpstream();
    px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', 'capabilities/'], env: { CAL_COM_CLIENT_SECRET: SECRET, CAL_COM_API_KEY: API_KEY } });
  });
  after(async () => {
    const r = await px?.stop?.();
    await up?.close();
    assert.equal(r?.sanitizer ?? null, null, r?.sanitizer);
  });
  beforeEach(() => up.reset());

  for (const sdk of SDKS) {
    describe(`SDK ${sdk}.x`, () => {
      test('/mcp lists 29 tools, each upstream operation once: no seed twin of a cal_platform tool', T, async () => {
        const c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
        try {
          const names = nameSet(await listAllTools(c.client));
          assert.equal(names.length, 29, `29 tools at /mcp; got ${names}`);
          assert.equal(new Set(names).size, 29);
          assert.ok(names.every((n) => n.startsWith('cal_platform_')), `only cal_platform tools; got ${names}`);
          for (const [seed, twin] of Object.entries(SEED_TWINS)) {
            assert.ok(!names.includes(seed), `${seed} not listed at /mcp`);
            assert.ok(names.includes(twin), `${twin} listed at /mcp`);
          }
        } finally {
          await closeClient(c);
        }
      });

      test('/mcp instructions name every adapter it serves, each with its description', T, async () => {
        const c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
        try {
          const text = c.client.getInstructions();
          assert.match(text, /^This MCP endpoint serves the tools of 8 adapters:/);
          for (const ns of MCP_ADAPTERS) assert.ok(text.includes(`\n- ${ns}: `), `instructions name ${ns}:\n${text}`);
          assert.ok(text.includes('Platform: Stripe. Part of the cal_platform tool set'), 'a description is there');
          assert.match(text, /- cal-com-deprecated-platform-managed-users-mcp: [^\n]*its tools are not listed/);
        } finally {
          await closeClient(c);
        }
      });

      test('a seed tool not listed at /mcp is still callable there by its name, and sends its request', T, async () => {
        const c = await connectHttp(`${px.mcpUrl}/mcp`, { sdk });
        try {
          const res = await callTool(c.client, 'get-managed-user', { clientId: 'cl-1', userId: 42 });
          assert.notEqual(res.isError, true, showResult(res));
          assert.equal(up.requests.length, 1);
          assert.equal(up.requests[0].method, 'GET');
          assert.equal(up.requests[0].path, '/v2/oauth-clients/cl-1/users/42');
          assert.equal(up.requests[0].headers['x-cal-secret-key'], SECRET);
        } finally {
          await closeClient(c);
        }
      });

      test('/mcp/<seed namespace> still lists its 7 tools', T, async () => {
        const c = await connectHttp(`${px.mcpUrl}/mcp/cal-com-deprecated-platform-managed-users-mcp`, { sdk });
        try {
          assert.deepEqual(nameSet(await listAllTools(c.client)), Object.keys(SEED_TWINS).sort());
          assert.match(c.client.getInstructions(), /^MCP adapter for Cal.diy API v2/);
        } finally {
          await closeClient(c);
        }
      });

      test('/cal-platform/mcp serves the same 29 tools and instructions as /cal-platform, and calls them', T, async () => {
        const a = await connectHttp(`${px.mcpUrl}/cal-platform`, { sdk });
        const b = await connectHttp(`${px.mcpUrl}/cal-platform/mcp`, { sdk });
        try {
          const ta = await listAllTools(a.client);
          const tb = await listAllTools(b.client);
          assert.equal(ta.length, 29);
          assert.deepEqual(tb, ta);
          assert.equal(b.client.getInstructions(), a.client.getInstructions());
          assert.match(b.client.getInstructions(), /serves the tools of 7 adapters/);
          const res = await callTool(b.client, 'cal_platform_webhooks_controller_get_webhooks', {});
          assert.notEqual(res.isError, true, showResult(res));
          assert.equal(up.requests.length, 1);
          assert.equal(up.requests[0].path, '/v2/webhooks');
        } finally {
          await closeClient(a);
          await closeClient(b);
        }
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------

const STDIO_DOC = 'tests/data/surface/notes-stdio.yaml';
const STDIO_ARGS = ['-c', 'tests/data/surface/capproxy.yaml', STDIO_DOC];

/** The REST port the run mode logged for its listener ("rest listening on host:port"). */
async function restPort(s) {
  for (let i = 0; i < 200; i++) {
    const m = s.stderr().match(/rest listening on 127\.0\.0\.1:(\d+)/);
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no REST listener logged:\n${s.stderr()}`);
}

for (const sdk of SDKS) {
  describe(`transport: stdio served by the run mode (SDK ${sdk}.x)`, () => {
    let up;
    before(async () => {
      up = await startUpstream();
    });
    after(async () => {
      await up?.close();
    });

    test('capproxy -c ... doc: the stdio adapter on stdin/stdout, REST next to it, exit when stdin closes', T, async () => {
      const s = await connectStdio({ subcommand: null, args: STDIO_ARGS, env: { SURFACE_BASE_URI: up.url }, sdk });
      try {
        assert.equal(s.client.getInstructions(), 'Notes, read one by its id.');
        assert.deepEqual(nameSet(await listAllTools(s.client)), ['get-note']);
        const res = await callTool(s.client, 'get-note', { id: 'n-7' });
        assert.notEqual(res.isError, true, showResult(res));
        assert.equal(up.requests.at(-1).path, '/notes/n-7');
        // the HTTP listeners serve at the same time
        const port = await restPort(s);
        const r = await request(`http://127.0.0.1:${port}`, '/notes/n-8');
        assert.equal(r.status, 200, r.text);
        assert.equal(up.requests.at(-1).path, '/notes/n-8');
      } finally {
        await withTimeout(s.client.close(), 8000 * SCALE, 'stdio client close').catch(() => {});
      }
      const ex = await withTimeout(s.exit, 15_000 * SCALE, 'capproxy to exit when stdin closes');
      assert.equal(ex.code, 0, `exit code; stderr:\n${s.stderr()}`);
      assert.match(s.stderr(), /stdin closed: draining/);
      assert.equal(s.sanitizer(), null, s.sanitizer());
      for (const line of s.lines) assert.ok(!line.startsWith('{"jsonrpc"'), `no JSON-RPC on stderr: ${line}`);
    });
  });
}

describe('transport: stdio: load rules', () => {
  test('two stdio adapters are a load error naming both', T, async () => {
    const r = await runCapproxy(['validate', ...STDIO_ARGS, 'tests/data/surface/tasks-stdio.yaml'], { env: { SURFACE_BASE_URI: 'http://127.0.0.1:9' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /tasks-stdio\.yaml:\d+:\d+: error: MCP adapter 'surface-tasks-stdio' has transport: stdio, and so has 'surface-notes-stdio' \(tests\/data\/surface\/notes-stdio\.yaml:\d+:\d+\)/);
  });

  test('one stdio adapter validates', T, async () => {
    const r = await runCapproxy(['validate', ...STDIO_ARGS], { env: { SURFACE_BASE_URI: 'http://127.0.0.1:9' } });
    assert.equal(r.code, 0, r.stderr);
  });
});

// ---------------------------------------------------------------------------------------------
// The README's MCP client configuration snippets

const PLACEHOLDER = '/path/to/capproxy';

/** The JSON code blocks under the README's "### MCP client configuration" heading. */
function readmeSnippets() {
  const text = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const start = text.indexOf('\n### MCP client configuration\n');
  assert.ok(start >= 0, 'README has the "MCP client configuration" heading');
  const rest = text.slice(start + 1);
  const next = rest.slice(1).search(/\n#{1,3} /);
  const section = next >= 0 ? rest.slice(0, next + 1) : rest;
  return [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
}

/** Every server entry of the snippets: {client, name, entry}. */
function snippetServers() {
  const out = [];
  for (const snip of readmeSnippets()) {
    for (const key of ['mcpServers', 'servers']) {
      for (const [name, entry] of Object.entries(snip[key] || {})) out.push({ key, name, entry });
    }
  }
  return out;
}

const SERVERS = snippetServers();
const STDIO_SERVERS = SERVERS.filter((s) => s.entry.command && s.entry.command.startsWith(PLACEHOLDER));
const URLS = SERVERS.flatMap((s) => [s.entry.url, ...(s.entry.args || []).filter((a) => /^https?:/.test(a))].filter(Boolean));

describe('README MCP client snippets', () => {
  test('the section has the Claude Desktop, VS Code and Cursor snippets, stdio and HTTP', () => {
    assert.ok(SERVERS.some((s) => s.key === 'servers' && s.entry.type === 'http'), 'VS Code http');
    assert.ok(SERVERS.some((s) => s.key === 'servers' && s.entry.type === 'stdio'), 'VS Code stdio');
    assert.ok(SERVERS.some((s) => s.key === 'mcpServers' && s.entry.url), 'Cursor url');
    assert.ok(SERVERS.some((s) => s.key === 'mcpServers' && (s.entry.args || []).includes('mcp-remote')), 'Claude Desktop mcp-remote');
    assert.ok(STDIO_SERVERS.length >= 2, `stdio snippets: ${STDIO_SERVERS.length}`);
    assert.ok(URLS.length >= 3, `URLs: ${URLS}`);
  });

  test('a stdio snippet started with its placeholders left in is refused, naming the variable', T, async () => {
    const { entry } = STDIO_SERVERS[0];
    const args = entry.args.map((v) => v.split(PLACEHOLDER).join(repoRoot));
    const r = await runCapproxy(['validate', ...args.slice(1)], { env: entry.env, cwd: os.tmpdir() });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /environment variable CAL_COM_\w+ .*holds a placeholder/);
  });

  for (const sdk of SDKS) {
    for (const { name, entry } of STDIO_SERVERS) {
      test(`stdio snippet "${name}" started as written from ${os.tmpdir()} (SDK ${sdk}.x)`, T, async () => {
        const sub = (v) => v.split(PLACEHOLDER).join(repoRoot);
        const command = entry.command === `${PLACEHOLDER}/build/capproxy` ? binPath : sub(entry.command);
        const up = await startUpstream();
        // The snippet's environment with its `your-...` credential placeholders filled in (as
        // the README asks), plus the base URI that points the shipped configuration at the
        // recording upstream instead of api.cal.com.
        const env = { CAL_COM_BASE_URI: up.url };
        for (const [k, v] of Object.entries(entry.env || {})) env[k] = v.startsWith('your-') ? `${k.toLowerCase()}-DISTINCT-7e1f` : v;
        const s = await connectStdio({ command, subcommand: null, args: (entry.args || []).map(sub), cwd: os.tmpdir(), rawEnv: env, sdk });
        try {
          const tools = await listAllTools(s.client);
          assert.ok(tools.length > 0, 'tools listed');
          const names = nameSet(tools);
          assert.equal(new Set(names).size, names.length);
          const res = await callTool(s.client, 'cal_platform_webhooks_controller_get_webhooks', {});
          assert.notEqual(res.isError, true, showResult(res));
          assert.equal(up.requests.at(-1).path, '/v2/webhooks');
          assert.equal(up.requests.at(-1).headers.authorization, `Bearer ${env.CAL_COM_API_KEY}`);
        } finally {
          await withTimeout(s.client.close(), 8000 * SCALE, 'stdio client close').catch(() => {});
          await up.close();
        }
        const ex = await withTimeout(s.exit, 15_000 * SCALE, 'capproxy to exit');
        assert.equal(ex.code, 0, s.stderr());
        assert.equal(sanitizerReport(s.lines), null);
      });
    }
  }

  describe('HTTP snippet URLs against a running capproxy', () => {
    let up, px;
    before(async () => {
      up = await startUpstream();
      px = await startProxy({ upstream: up, args: ['-c', 'config/capproxy.yaml', 'capabilities/'], env: { CAL_COM_CLIENT_SECRET: SECRET, CAL_COM_API_KEY: API_KEY } });
    });
    after(async () => {
      await px?.stop?.();
      await up?.close();
    });

    for (const sdk of SDKS) {
      for (const url of URLS) {
        test(`${url} (SDK ${sdk}.x): the documented origin, the path serves tools`, T, async () => {
          const u = new URL(url);
          assert.equal(u.origin, 'http://127.0.0.1:9090', 'the snippets name the default MCP listener');
          const c = await connectHttp(`${px.mcpUrl}${u.pathname}`, { sdk });
          try {
            const names = nameSet(await listAllTools(c.client));
            assert.equal(names.length, 29, `${u.pathname}: ${names}`);
          } finally {
            await closeClient(c);
          }
        });
      }
    }
  });
});
