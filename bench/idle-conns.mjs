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
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
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
