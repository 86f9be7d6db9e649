// A small HTTP client for the tests: request() returns {status, headers, body, text, json};
// raw() sends exact bytes over a net.Socket (for malformed requests and injection attempts).
// Everything has a time-out, so nothing can hang a test.

import http from 'node:http';
import net from 'node:net';

const noKeepAlive = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/**
 * request(baseUrl, path, {method, headers, body, timeoutMs, agent})
 * body: string | Buffer | object (sent as JSON with content-type application/json).
 */
export function request(base, path, opts = {}) {
  const { method = 'GET', headers = {}, timeoutMs = 10_000, agent = noKeepAlive } = opts;
  let { body } = opts;
  const hdrs = { ...headers };
  if (body !== undefined && !(typeof body === 'string' || Buffer.isBuffer(body))) {
    body = JSON.stringify(body);
    if (!Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) hdrs['content-type'] = 'application/json';
  }
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path, headers: hdrs, agent, insecureHTTPParser: true },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const buf = Buffer.concat(chunks);
          const text = buf.toString('utf8');
          let json;
          try {
            json = text.length ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: buf, text, json });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`client time-out after ${timeoutMs} ms: ${method} ${path}`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * raw(port, bytes, {host, timeoutMs, closeAfterMs}) sends the bytes as they are and collects what
 * comes back until one whole response is in (Content-Length), the server closes, or the time-out.
 * Resolves {status, headers, body, text, closed, timedOut}; status is null when nothing came back.
 */
export function raw(port, bytes, opts = {}) {
  const { host = '127.0.0.1', timeoutMs = 5000 } = opts;
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...parseResponse(buf), closed: why === 'close', timedOut: why === 'timeout', error: why instanceof Error ? why : null });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      const p = parseResponse(buf);
      if (p.complete) finish('complete');
    });
    sock.on('end', () => finish('close'));
    sock.on('close', () => finish('close'));
    sock.on('error', (e) => finish(e));
  });
}

/** Parse the first HTTP/1.x response in buf (as much as is there). */
export function parseResponse(buf) {
  const sep = buf.indexOf('\r\n\r\n');
  if (sep < 0) return { status: null, headers: {}, body: Buffer.alloc(0), text: '', complete: false, rawText: buf.toString('latin1') };
  const head = buf.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = buf.subarray(sep + 4);
  const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
  const complete = len !== null && body.length >= len;
  return {
    status: m ? Number(m[1]) : null,
    headers,
    body: len !== null ? body.subarray(0, len) : body,
    text: (len !== null ? body.subarray(0, len) : body).toString('utf8'),
    complete,
    rawText: buf.toString('latin1'),
  };
}

/** Open a connection, send a partial request, wait, and hang up. Resolves when closed. */
export function hangUp(port, bytes, { host = '127.0.0.1', afterMs = 100 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.on('connect', () => {
      sock.write(bytes);
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, afterMs);
    });
    sock.on('error', () => resolve());
  });
}
