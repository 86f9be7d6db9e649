// Start and stop the real capproxy binary for the integration tests.
//
//   const px = await startProxy({ upstream: up, env: { CAL_COM_CLIENT_SECRET: 's' } });
//   px.restUrl / px.mcpUrl / px.lines (every stderr line so far)
//   const r = await px.stop();   // SIGTERM; {code, signal, killed, sanitizer, lines}
//
// The binary is $CAPPROXY_BIN (relative to the repo root) or build/capproxy; cwd is the repo root.
// The environment starts from this process's environment without any CAPPROXY_* or CAL_COM_*
// variable, then the test defaults, then opts.env (a value of null removes a variable).
// When $CAPPROXY_LOG_DIR is set every proxy's stderr is also written there (scripts/test.sh scans
// those files for sanitizer reports).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binPath = path.resolve(repoRoot, process.env.CAPPROXY_BIN || 'build/capproxy');

export const SANITIZER_PATTERNS = [
  /ERROR: AddressSanitizer/,
  /ERROR: LeakSanitizer/,
  /LeakSanitizer/,
  /runtime error:/,
  /WARNING: ThreadSanitizer/,
];

export function sanitizerReport(lines) {
  const i = lines.findIndex((l) => SANITIZER_PATTERNS.some((re) => re.test(l)));
  if (i < 0) return null;
  return lines.slice(Math.max(0, i - 2), i + 60).join('\n');
}

const live = new Set();
function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** The environment a test proxy runs with (also used for `capproxy mcp-stdio` children). */
export function buildEnv(extra, upstream) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CAPPROXY_') || k.startsWith('CAL_COM_')) continue;
    env[k] = v;
  }
  Object.assign(env, {
    CAPPROXY_REST_LISTEN: '127.0.0.1:0',
    CAPPROXY_MCP_LISTEN: '127.0.0.1:0',
    CAPPROXY_ADMIN_LISTEN: '127.0.0.1:0',
    CAPPROXY_WORKERS: '2',
    CAPPROXY_LOG_LEVEL: 'info',
  });
  if (upstream) env.CAL_COM_BASE_URI = typeof upstream === 'string' ? upstream : upstream.url;
  for (const [k, v] of Object.entries(extra || {})) {
    if (v === null || v === undefined) delete env[k];
    else env[k] = String(v);
  }
  return env;
}

function logFile(pid) {
  const dir = process.env.CAPPROXY_LOG_DIR;
  if (!dir) return null;
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `capproxy-${process.pid}-${pid}.log`);
}

function parseListen(line, kind) {
  const m = new RegExp(`\\b${kind} listening on (\\S+)`).exec(line);
  if (!m) return null;
  const hp = m[1];
  const i = hp.lastIndexOf(':');
  let host = hp.slice(0, i);
  const port = Number(hp.slice(i + 1).replace(/[^0-9].*$/, ''));
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  return { host, port, url: `http://${host}:${port}` };
}

/**
 * startProxy({upstream, env, args, waitReady, timeoutMs})
 * upstream: the stand-in (or a base URI string) that CAL_COM_BASE_URI points at.
 */
export async function startProxy(opts = {}) {
  const {
    upstream,
    env: extraEnv,
    args = ['-c', 'config/capproxy.yaml', 'capabilities/'],
    waitReady = true,
    timeoutMs = Number(process.env.CAPPROXY_START_TIMEOUT_MS || 15_000),
  } = opts;
  if (!fs.existsSync(binPath)) throw new Error(`capproxy binary not found at ${binPath} (build it, or set CAPPROXY_BIN)`);
  const env = buildEnv(extraEnv, upstream);
  const child = spawn(binPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);

  const lines = [];
  const stdoutLines = [];
  const file = logFile(child.pid);
  const fileStream = file ? fs.createWriteStream(file) : null;
  const lineWaiters = new Set();
  let partial = '';
  let exited = null;
  let exitWaiters = [];

  const px = {
    child,
    pid: child.pid,
    env,
    lines,
    stdoutLines,
    rest: null,
    mcp: null,
    admin: null,
    adminUrl: null,
    restUrl: null,
    mcpUrl: null,
    get exited() {
      return exited;
    },
    stderr() {
      return lines.join('\n');
    },
    accessLines() {
      return lines.filter((l) => /capproxy: access:/.test(l));
    },
    /** Resolve with the first stderr line (from `from` on) matching re; reject after timeoutMs. */
    waitForLine(re, timeoutMs2 = 5000, from = 0) {
      const found = lines.slice(from).find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { re, resolve, reject };
        w.timer = setTimeout(() => {
          lineWaiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs2} ms waiting for a stderr line ${re}; stderr:\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs2);
        lineWaiters.add(w);
      });
    },
    waitExit(timeoutMs2 = 10_000) {
      if (exited) return Promise.resolve(exited);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`capproxy did not exit within ${timeoutMs2} ms`)), timeoutMs2);
        exitWaiters.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
    },
    /** SIGTERM, wait (then SIGKILL); resolves {code, signal, killed, sanitizer, lines, durationMs}. */
    async stop(graceMs = Number(process.env.CAPPROXY_STOP_TIMEOUT_MS || 15_000)) {
      if (!exited) {
        const t0 = Date.now();
        try {
          child.kill('SIGTERM');
        } catch {
          /* gone */
        }
        let killed = false;
        try {
          await px.waitExit(graceMs);
        } catch {
          killed = true;
          child.kill('SIGKILL');
          await px.waitExit(5000).catch(() => {});
        }
        if (exited) {
          exited.killed = killed;
          exited.durationMs = Date.now() - t0;
        }
      }
      return { ...(exited || { code: null, signal: null, killed: true }), sanitizer: sanitizerReport(lines), lines };
    },
  };

  const onLine = (line) => {
    lines.push(line);
    if (!px.rest) {
      const r = parseListen(line, 'rest');
      if (r) {
        px.rest = r;
        px.restUrl = r.url;
      }
    }
    if (!px.admin) {
      const r = parseListen(line, 'admin');
      if (r) {
        px.admin = r;
        px.adminUrl = r.url;
      }
    }
    if (!px.mcp) {
      const r = parseListen(line, 'mcp');
      if (r) {
        px.mcp = r;
        px.mcpUrl = r.url;
      }
    }
    for (const w of [...lineWaiters]) {
      if (w.re.test(line)) {
        lineWaiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(line);
      }
    }
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    fileStream?.write(chunk);
    partial += chunk;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, i).replace(/\r$/, ''));
      partial = partial.slice(i + 1);
    }
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => stdoutLines.push(...chunk.split('\n').filter(Boolean)));

  // 'close' comes after the process exited and its stdout/stderr were drained
  const exitPromise = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
    child.on('error', (e) => resolve({ code: null, signal: null, error: e }));
  });
  exitPromise.then((r) => {
    if (partial) {
      onLine(partial);
      partial = '';
    }
    fileStream?.end();
    live.delete(child);
    exited = r;
    for (const w of exitWaiters) w(r);
    exitWaiters = [];
    for (const w of lineWaiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`capproxy exited (code ${r.code}, signal ${r.signal}) while waiting for ${w.re}; stderr:\n${lines.slice(-40).join('\n')}`));
    }
    lineWaiters.clear();
  });

  if (waitReady) {
    try {
      await px.waitForLine(/\bready\b/, timeoutMs);
    } catch (e) {
      await px.stop(2000);
      throw e;
    }
    if (!px.rest) {
      await px.stop(2000);
      throw new Error(`capproxy said ready but no "rest listening on HOST:PORT" line; stderr:\n${lines.join('\n')}`);
    }
  }
  return px;
}

/** Run capproxy to completion (e.g. `validate`): resolves {code, signal, stdout, stderr}. */
export function runCapproxy(args, { env, timeoutMs = 15_000, cwd = repoRoot } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(binPath, args, { cwd, env: buildEnv(env, null), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`capproxy ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      live.delete(child);
      const file = logFile(child.pid);
      if (file) fs.writeFileSync(file, stderr);
      resolve({ code, signal, stdout, stderr, sanitizer: sanitizerReport(stderr.split('\n')) });
    });
  });
}
