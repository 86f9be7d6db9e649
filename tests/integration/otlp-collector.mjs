// A stand-in OTLP/HTTP collector for the tracing tests: no OpenTelemetry collector is packaged
// for Debian bookworm or npm, so this decodes what capproxy exports (OTLP JSON over HTTP).
import http from 'node:http';

/** A stand-in OTLP/HTTP collector: decodes every POST /v1/traces body as OTLP JSON. */
export async function startCollector() {
  const spans = [];
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !/^application\/json/.test(req.headers['content-type'] || '')) {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(text);
      bodies.push({ headers: req.headers, body });
      for (const rs of body.resourceSpans) {
        const resAttrs = attrs(rs.resource.attributes);
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, attrs: attrs(s.attributes), resource: resAttrs, scope: ss.scope });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/traces`,
    base: `http://127.0.0.1:${server.address().port}`,
    spans,
    bodies,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

export function attrs(list) {
  const o = {};
  for (const a of list || []) {
    const v = a.value;
    o[a.key] = 'stringValue' in v ? v.stringValue : 'intValue' in v ? Number(v.intValue) : v;
  }
  return o;
}

