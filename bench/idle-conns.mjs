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
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
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
