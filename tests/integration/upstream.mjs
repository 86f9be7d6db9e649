// A recording upstream stand-in: a node:http server on 127.0.0.1 (ephemeral port) that records
// every request it receives and answers as the current test scripts it.
//
//   const up = await startUpstream();
//   up.handle((req) => ({ status: 201, body: { status: 'success', data: { id: 1 } } }));
//   ... up.requests[0].method / .url / .path / .query / .headers / .body / .aborted ...
//   await up.close();
//
// A handler gets the recorded request (see `record` below) and returns, or resolves to, any of
//   { status, headers, body, delayMs, hang, destroy, cutAfterHead }
// body: string | Buffer | any other value (sent as JSON). hang: never answer (until the client
// goes away). destroy: reset the connection without answering. delayMs: answer that much later.
// cutAfterHead: send the status line and headers (announcing a body), then reset the connection.
// Without a handler the answer is 200 JSON {"status":"success","data":{...the request...}}.
//
// Run standalone (`node upstream.mjs`) it serves on an ephemeral port and prints each request.

import fs from 'node:fs';
import http from 'node:http';

function defaultReply(rec) {
  let json;
  try {
    json = rec.body.length ? JSON.parse(rec.bodyText) : null;
  } catch {
    json = null;
  }
  return {
    status: 200,
    body: {
      status: 'success',
      data: {
        seq: rec.seq,
        method: rec.method,
        url: rec.url,
        path: rec.path,
        query: rec.query,
        body: json,
      },
    },
  };
}

export async function startUpstream({ host = '127.0.0.1', port = 0, log = false } = {}) {
  const requests = [];
  const waiters = new Set();
  let handler = null;
  let seq = 0;

  const notify = () => {
    for (const w of [...waiters]) {
      if (w.pred(requests)) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(requests);
      }
    }
  };

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks = [];
    const rec = {
      seq: ++seq,
      time: Date.now(),
      method: req.method,
      url: req.url, // raw request target: path + query, as received
      path: req.url.split('?')[0],
      rawQuery: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : null,
      query: null, // filled below: { name: [values...] }
      searchParams: new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : ''),
      headers: { ...req.headers }, // lowercased names
      rawHeaders: [...req.rawHeaders],
      httpVersion: req.httpVersion,
      body: Buffer.alloc(0),
      bodyText: '',
      complete: false, // whole request body received
      answered: false, // response fully written
      aborted: false, // client went away before the response was finished
      closedAt: null,
      remotePort: req.socket.remotePort,
    };
    const q = {};
    for (const [k, v] of rec.searchParams) (q[k] ??= []).push(v);
    rec.query = q;
    requests.push(rec);

    res.on('close', () => {
      rec.closedAt = Date.now();
      if (!res.writableFinished) rec.aborted = true;
      notify();
    });
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', async () => {
      rec.complete = true;
      rec.body = Buffer.concat(chunks);
      rec.bodyText = rec.body.toString('utf8');
      if (log) console.log(`${rec.seq} ${rec.method} ${rec.url} ${JSON.stringify(rec.headers)} ${rec.bodyText}`);
      notify();
      let r;
      try {
        r = handler ? await handler(rec) : defaultReply(rec);
        if (r == null) r = defaultReply(rec);
      } catch (e) {
        r = { status: 599, body: { error: String(e) } };
      }
      if (r.destroy) {
        req.socket.destroy();
        return;
      }
      if (r.hang) return; // the client (the proxy) has to give up
      if (r.delayMs) {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, r.delayMs);
          res.once('close', () => {
            clearTimeout(t);
            resolve();
          });
        });
        if (res.destroyed || res.writableEnded || rec.closedAt) return;
      }
      if (r.cutAfterHead) {
        res.writeHead(r.status || 200, { 'content-length': '1000', ...(r.headers || {}) });
        res.flushHeaders();
        setTimeout(() => req.socket.destroy(), 30);
        return;
      }
      let body = r.body;
      const headers = { ...(r.headers || {}) };
      const hasType = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
      if (body === undefined) body = '';
      if (!(typeof body === 'string' || Buffer.isBuffer(body))) {
        body = JSON.stringify(body);
        if (!hasType) headers['content-type'] = 'application/json; charset=utf-8';
      } else if (!hasType && body.length) {
        headers['content-type'] = 'application/json; charset=utf-8';
      }
      try {
        res.writeHead(r.status || 200, headers);
        res.end(body, () => {
          rec.answered = true;
          notify();
        });
      } catch {
        /* client gone */
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 0;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();

  const up = {
    host,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    requests,
    server,
    /** Script the answers: fn(rec) -> {status, headers, body, delayMs, hang, destroy}; null = default. */
    handle(fn) {
      handler = fn;
    },
    /** Forget recorded requests and go back to the default answer. */
    reset() {
      requests.length = 0;
      handler = null;
    },
    /** Resolve when pred(requests) holds; reject after timeoutMs. */
    waitFor(pred, timeoutMs = 5000, what = 'upstream condition') {
      if (pred(requests)) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; upstream saw: ` +
            JSON.stringify(requests.map((r) => `${r.method} ${r.url} aborted=${r.aborted}`))));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    waitForRequests(n, timeoutMs = 5000) {
      return up.waitFor((rs) => rs.length >= n, timeoutMs, `${n} upstream request(s)`);
    },
    async close() {
      for (const w of waiters) clearTimeout(w.timer);
      waiters.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return up;
}

// A port nothing listens on, for "connection refused". It is taken below
// the kernel's ephemeral range: a port that listen(0) handed out and gave
// back can be handed out again at once, to the proxy under test when it
// binds its own listeners to port 0, and then the "dead" upstream answers.
function ephemeralLow() {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12000) return low;
  } catch {
    /* not Linux: fall back to the IANA dynamic range's start */
  }
  return 49152;
}

export async function closedPort() {
  const low = ephemeralLow();
  for (let i = 0; i < 64; i++) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    const s = http.createServer();
    const ok = await new Promise((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    await new Promise((resolve) => s.close(resolve));
    return port;
  }
  throw new Error('closedPort: no free port below the ephemeral range');
}

// A port for a listener the test tells the proxy to bind: the same choice,
// out of the range the kernel hands to port-0 binds and outgoing connections.
export const freePort = closedPort;

// Standalone: node upstream.mjs [port]
if (import.meta.url === `file://${process.argv[1]}`) {
  const up = await startUpstream({ port: Number(process.argv[2] || 0), log: true });
  console.log(`upstream stand-in listening on ${up.url}`);
  const stop = async () => {
    await up.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
