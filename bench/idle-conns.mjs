<<<<<<< HEAD
#!/usr/bin/env node
// Memory with idle keep-alive client connections: opens N connections to a capproxy REST
// listener, sends one request on each (HTTP/1.1 keep-alive), reads the whole answer, and keeps
// them all open while it prints the server's resident memory (VmRSS from /proc/<pid>/status)
// before, and after the N connections are idle. Usage:
//   node bench/idle-conns.mjs <pid> <host:port> [path] [count]
// e.g. node bench/idle-conns.mjs $(pidof capproxy) 127.0.0.1:8080 /v1/v2/oauth-clients/abc/users/42 1000
import net from 'node:net';
import { readFileSync } from 'node:fs';

const [pid, hostport, path = '/', countArg = '1000'] = process.argv.slice(2);
if (!pid || !hostport) {
  console.error('usage: node bench/idle-conns.mjs <pid> <host:port> [path] [count]');
  process.exit(2);
}
const count = Number(countArg);
const [host, port] = hostport.split(':');

function rssKiB() {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// One connection: send the request, resolve once the whole answer (Content-Length) is in.
function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port: Number(port) });
    let buf = Buffer.alloc(0);
    s.on('error', reject);
    s.on('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${hostport}\r\n\r\n`));
=======
// bench/idle-conns.mjs: hold <count> idle keep-alive connections to a proxy, for bench/run.sh's
// memory figure. Each connection sends one GET, reads its whole response (Content-Length), and
// stays open doing nothing. Prints "ready <open> <failed>" on stdout when all are in, then waits
// until it is killed (SIGTERM closes every socket).
//
//   node bench/idle-conns.mjs http://127.0.0.1:8080/v1/v2/oauth-clients/abc/users/42 1000

import net from 'node:net';

const [url, countArg, batchArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node idle-conns.mjs URL [count=1000] [batch=100]');
  process.exit(2);
}
const u = new URL(url);
const count = Number(countArg || 1000);
const batch = Number(batchArg || 100); // connections opened at once (all stay open)
const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nAccept: application/json\r\n\r\n`;
const sockets = [];

/** One connection, one request; resolves true once the response is complete, false on error. */
function one() {
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!ok) s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 10_000);
    s.setNoDelay(true);
    s.on('connect', () => s.write(request));
>>>>>>> bench
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
<<<<<<< HEAD
      const head = buf.subarray(0, end).toString();
      const m = /content-length:\s*(\d+)/i.exec(head);
      if (!m || buf.length >= end + 4 + Number(m[1])) {
        const status = Number(head.split(' ')[1]);
        resolve({ s, status });
      }
    });
  });
}

const before = rssKiB();
const conns = [];
for (let i = 0; i < count; i += 50) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 50); j++) batch.push(open());
  conns.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 500));
const after = rssKiB();
const bad = conns.filter((c) => c.status < 200 || c.status >= 400).length;
console.log(`idle RSS before: ${(before / 1024).toFixed(1)} MiB`);
console.log(`RSS with ${conns.length} idle keep-alive connections: ${(after / 1024).toFixed(1)} MiB`
  + ` (+${((after - before) / conns.length).toFixed(2)} KiB per connection)${bad ? `, ${bad} non-2xx/3xx answers` : ''}`);
for (const c of conns) c.s.destroy();
=======
      const head = buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!/^HTTP\/1\.1 200 /.test(head)) return finish(false);
      if (m && buf.length >= end + 4 + Number(m[1])) finish(true);
    });
    s.on('error', () => finish(false));
    s.on('close', () => {
      finish(false);
      const i = sockets.indexOf(s);
      if (i >= 0) sockets.splice(i, 1);
    });
    sockets.push(s);
  });
}

let failed = 0;
for (let i = 0; i < count; i += batch) {
  const n = Math.min(batch, count - i);
  const ok = await Promise.all(Array.from({ length: n }, one));
  failed += ok.filter((x) => !x).length;
}
console.log(`ready ${sockets.length} ${failed}`);

process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
setInterval(() => {}, 1 << 30); // stay alive, idle
>>>>>>> bench
