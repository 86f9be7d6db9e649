// deploy/kubernetes/*.yaml against the Kubernetes API, offline:
//
//   (1) schema: every object is validated with the OpenAPI schema of its apiVersion and kind
//       (npm kubernetes-models: a class per kind whose validate() runs the schema compiled from
//       the Kubernetes OpenAPI document), and no field unknown to that kind (what
//       `kubectl apply --validate=strict` refuses; read from the package's type declarations);
//   (2) policy, each rule a function returning its problems, run on the shipped manifests
//       (none expected) and on a broken copy (the problem expected), so every rule can fail:
//       capproxy next to an application is a native sidecar with a startup probe; no replicas
//       in a Deployment an HPA scales; the "restricted" Pod Security Standard on every container;
//       a NetworkPolicy keeps the admin port 9901 to a named monitoring namespace while the
//       Service ports stay reachable; no Secret with data (apply would overwrite the real one);
//       image references; probes on the admin listener at paths src/app/admin.c serves.
//
// deploy.test.mjs checks the rest (environment through the real binary, Secret wiring, grace
// period, resources). CAPPROXY_DEPLOY_DIR=DIR reads deploy/kubernetes/ from DIR.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './capproxy.mjs';
import { loadManifests } from './manifests.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelsRoot = path.join(here, 'node_modules', 'kubernetes-models');
const deployRoot = path.resolve(process.env.CAPPROXY_DEPLOY_DIR || repoRoot);
const k8sDir = path.join(deployRoot, 'deploy', 'kubernetes');
const mesonVersion = /project\([^)]*?version\s*:\s*'([^']+)'/s.exec(fs.readFileSync(path.join(repoRoot, 'meson.build'), 'utf8'))[1];
const ADMIN_PORT = 9901;

// ============================================================================ the manifests

const loadManifest = (file) => loadManifests(k8sDir, file);

const files = fs.readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const manifests = files.map(loadManifest);
const where = (o) => `${o.kind}/${o.metadata?.name}`;

// ============================================================ (1) schema: kubernetes-models

/** "apps/v1" -> the package's directory for that group and version ("v1" is the core group). */
function modelDir(apiVersion) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
  return group ? path.join(group, version) : version;
}

/** The model class of an object's kind, or an error saying the package has none. */
async function modelClass(obj) {
  const rel = path.join(modelDir(String(obj.apiVersion)), `${obj.kind}.js`);
  if (!fs.existsSync(path.join(modelsRoot, rel))) throw new Error(`${where(obj)}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
  const mod = await import(`kubernetes-models/${rel.replace(/\.js$/, '')}`);
  return mod[obj.kind];
}

/** Schema problems of one object (the validator's messages with their JSON paths). */
async function schemaProblems(obj) {
  let Model;
  try {
    Model = await modelClass(obj);
  } catch (e) {
    return [e.message];
  }
  try {
    new Model(structuredClone(obj)).validate();
    return [];
  } catch (e) {
    const errs = e.errors || [{ instancePath: '', message: e.message }];
    return errs.map((x) => `${where(obj)}: ${x.instancePath || '/'} ${x.message}${x.params?.allowedValues ? ` (${x.params.allowedValues.join(', ')})` : ''}`);
  }
}

// Unknown fields. The compiled schemas do not forbid extra properties, but the API server (and
// kubectl's default --validate=strict) does; a misspelt `restartpolicy` would otherwise pass
// and silently turn the native sidecar into a plain init container that blocks the pod. The
// field names come from the package's type declarations, one interface per .d.ts file:
//   export interface IContainer { "name": string; "env"?: Array<IIoK8sApiCoreV1EnvVar>; ... }
const dtsCache = new Map();

/** {fields: Map(name -> type text), imports: Map(identifier -> .d.ts path)} or null (an alias). */
function readInterface(dtsPath) {
  if (dtsCache.has(dtsPath)) return dtsCache.get(dtsPath);
  const text = fs.readFileSync(dtsPath, 'utf8').replace(/^[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/gm, '');
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const spec = m[2];
    const file = spec.startsWith('.')
      ? path.resolve(path.dirname(dtsPath), spec.replace(/\.js$/, '.d.ts'))
      : path.join(here, 'node_modules', spec.replace(/\.js$/, '') + '.d.ts');
    imports.set(m[1], file);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text);
  let result = null;
  if (body) {
    const fields = new Map();
    // one property per 4-space-indented "name" line; its type runs to the next one
    const parts = body[1].split(/^ {4}"([^"]+)"\??: /m);
    for (let i = 1; i < parts.length; i += 2) fields.set(parts[i], parts[i + 1].trim());
    result = { fields, imports };
  }
  dtsCache.set(dtsPath, result);
  return result;
}

/** Where the type text refers to another interface: its .d.ts, else null (scalars, maps of them). */
function walkValue(value, typeText, imports, at, out) {
  if (value === null || typeof value !== 'object') return;
  const map = /^\{\s*\[key: string\]: ([\s\S]*?);?\s*\}$/.exec(typeText);
  if (map) {
    for (const [k, v] of Object.entries(value)) walkValue(v, map[1].trim(), imports, `${at}/${k}`, out);
    return;
  }
  const arr = /^Array<([\s\S]*)>;?$/.exec(typeText);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => walkValue(v, arr[1], imports, `${at}/${i}`, out));
    return;
  }
  const ref = /^(I\w+);?$/.exec(typeText);
  if (ref && imports.has(ref[1])) unknownFieldsAt(value, imports.get(ref[1]), at, out);
}

function unknownFieldsAt(value, dtsPath, at, out) {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return;
  const iface = readInterface(dtsPath);
  if (!iface) return; // an alias (IntOrString, Quantity, Time): a scalar
  for (const [k, v] of Object.entries(value)) {
    if (!iface.fields.has(k)) {
      out.push(`${at}/${k}: unknown field (${path.basename(dtsPath, '.d.ts')} has ${[...iface.fields.keys()].join(', ')})`);
      continue;
    }
    walkValue(v, iface.fields.get(k), iface.imports, `${at}/${k}`, out);
  }
}

function unknownFieldProblems(obj) {
  const dts = path.join(modelsRoot, modelDir(String(obj.apiVersion)), `${obj.kind}.d.ts`);
  if (!fs.existsSync(dts)) return [`${where(obj)}: no type declarations for ${obj.apiVersion} ${obj.kind}`];
  const out = [];
  unknownFieldsAt(obj, dts, '', out);
  return out.map((p) => `${where(obj)}: ${p}`);
}

// ================================================================ (2) policy rules

const podTemplates = (objs) =>
  objs
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(o.kind))
    .map((o) => ({ owner: o, labels: o.spec?.template?.metadata?.labels || {}, spec: o.spec?.template?.spec || {} }));
const allContainers = (spec) => [...(spec.initContainers || []), ...(spec.containers || []), ...(spec.ephemeralContainers || [])];
const isCapproxy = (c) => /(^|\/)capproxy[:@]/.test(c.image || '') || c.name === 'capproxy';
const envOf = (c, name) => (c.env || []).find((e) => e.name === name)?.value;

/** A container port (number or name) as a number. */
function portNumber(c, p) {
  if (typeof p === 'number') return p;
  if (/^\d+$/.test(String(p))) return Number(p);
  return (c.ports || []).find((x) => x.name === p)?.containerPort;
}

/** Every pod that runs capproxy next to another container runs it as a native sidecar: an init
 * container with restartPolicy Always and a startup probe on /readyz, so the application
 * starts only once capproxy's listeners are up. */
export function checkNativeSidecar(objs) {
  const out = [];
  for (const { owner, spec } of podTemplates(objs)) {
    const all = allContainers(spec);
    const cp = all.find(isCapproxy);
    if (!cp || all.length < 2) continue;
    const w = `${where(owner)} container ${cp.name}`;
    if (!(spec.initContainers || []).includes(cp)) out.push(`${w}: next to the application it must be in initContainers (a native sidecar)`);
    if (cp.restartPolicy !== 'Always') out.push(`${w}: restartPolicy must be Always (a native sidecar; without it the pod waits for it to exit)`);
    const sp = cp.startupProbe?.httpGet;
    if (!sp) out.push(`${w}: a startupProbe (httpGet) holds the application back until capproxy listens`);
    else if (sp.path !== '/readyz' || portNumber(cp, sp.port) !== ADMIN_PORT) out.push(`${w}: startupProbe is GET /readyz on ${ADMIN_PORT} (ready once every listener is up), not ${sp.path} on ${sp.port}`);
    const before = (spec.initContainers || []).slice(0, (spec.initContainers || []).indexOf(cp));
    for (const c of before) if (c.restartPolicy !== 'Always') out.push(`${w}: init container ${c.name} before it would delay it; put capproxy first`);
  }
  return out;
}

/** A Deployment scaled by a HorizontalPodAutoscaler has no replicas: every apply would reset the
 * count the HPA chose. */
export function checkNoReplicasWithHpa(objs) {
  const out = [];
  for (const hpa of objs.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    const ref = hpa.spec?.scaleTargetRef || {};
    const target = objs.find((o) => o.kind === ref.kind && o.metadata?.name === ref.name);
    if (!target) out.push(`${where(hpa)}: scaleTargetRef ${ref.kind}/${ref.name} is not in the file`);
    else if (target.spec?.replicas !== undefined) out.push(`${where(target)}: spec.replicas ${target.spec.replicas} with ${where(hpa)} scaling it (apply resets the HPA's count)`);
  }
  return out;
}

const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

/** The "restricted" Pod Security Standard (v1.29 and later) on every pod and container, plus a
 * read-only root filesystem; a shipped Namespace enforces "restricted". */
export function checkRestricted(objs) {
  const out = [];
  for (const ns of objs.filter((o) => o.kind === 'Namespace'))
    if (ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted') out.push(`${where(ns)}: label pod-security.kubernetes.io/enforce: restricted`);
  for (const { owner, spec } of podTemplates(objs)) {
    const psc = spec.securityContext || {};
    const w0 = where(owner);
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[k]) out.push(`${w0}: ${k}`);
    for (const v of spec.volumes || []) {
      const type = Object.keys(v).find((k) => k !== 'name');
      if (!RESTRICTED_VOLUMES.includes(type)) out.push(`${w0}: volume ${v.name} of type ${type} is not allowed`);
    }
    if (psc.runAsUser === 0) out.push(`${w0}: pod runAsUser 0`);
    const podSeccomp = psc.seccompProfile?.type;
    if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) out.push(`${w0}: pod seccompProfile ${podSeccomp}`);
    for (const c of allContainers(spec)) {
      const sc = c.securityContext || {};
      const w = `${w0} container ${c.name}`;
      if (sc.privileged) out.push(`${w}: privileged`);
      if (sc.allowPrivilegeEscalation !== false) out.push(`${w}: allowPrivilegeEscalation must be false`);
      if (!(sc.capabilities?.drop || []).includes('ALL')) out.push(`${w}: capabilities must drop ALL`);
      for (const cap of sc.capabilities?.add || []) if (cap !== 'NET_BIND_SERVICE') out.push(`${w}: capability ${cap} added`);
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) out.push(`${w}: runAsNonRoot must be true (container or pod)`);
      if (sc.runAsUser === 0) out.push(`${w}: runAsUser 0`);
      const seccomp = sc.seccompProfile?.type ?? podSeccomp;
      if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) out.push(`${w}: seccompProfile must be RuntimeDefault or Localhost (container or pod), not ${seccomp}`);
      if (sc.readOnlyRootFilesystem !== true) out.push(`${w}: readOnlyRootFilesystem must be true`);
      for (const p of c.ports || []) if (p.hostPort) out.push(`${w}: hostPort ${p.hostPort}`);
    }
  }
  return out;
}

/** Does a NetworkPolicy port entry admit this container port (number or its name)? */
function admitsPort(rule, port, names) {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p) => {
    if (p.port === undefined) return true;
    if (typeof p.port === 'string' && !/^\d+$/.test(p.port)) return names.includes(p.port);
    const lo = Number(p.port);
    return port >= lo && port <= (p.endPort ?? lo);
  });
}

/** A peer that admits only named pods of a named namespace (by its kubernetes.io/metadata.name). */
function isNamedPeer(peer) {
  const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
  return Boolean(ns) && Object.keys(peer.podSelector?.matchLabels || {}).length > 0 && !peer.ipBlock;
}

const selects = (sel, labels) =>
  Object.entries(sel?.matchLabels || {}).every(([k, v]) => labels[k] === v) && (sel?.matchExpressions || []).length === 0;

/** Every pod with capproxy's admin port on its IP is selected by a NetworkPolicy that admits 9901
 * only from named monitoring pods (kubelet probes are not subject to NetworkPolicy); every port
 * a Service sends to is admitted; a policy that limits egress still lets DNS and HTTPS out. */
export function checkNetworkPolicy(objs) {
  const out = [];
  const policies = objs.filter((o) => o.kind === 'NetworkPolicy');
  for (const { owner, labels, spec } of podTemplates(objs)) {
    const cp = allContainers(spec).find(isCapproxy);
    if (!cp) continue;
    const adminListen = envOf(cp, 'CAPPROXY_ADMIN_LISTEN') ?? '0.0.0.0:9901';
    if (/^(127\.|\[::1\]|localhost|off$)/.test(adminListen)) continue; // not on the pod IP
    const mine = policies.filter((p) => selects(p.spec?.podSelector, labels));
    const ingress = mine.filter((p) => (p.spec.policyTypes || ['Ingress']).includes('Ingress'));
    const w = where(owner);
    if (ingress.length === 0) {
      out.push(`${w}: no NetworkPolicy (Ingress) selects the pod: the admin port ${ADMIN_PORT} (/metrics) is open to the cluster`);
      continue;
    }
    const adminNames = (cp.ports || []).filter((p) => p.containerPort === ADMIN_PORT).map((p) => p.name);
    for (const p of ingress)
      for (const [i, rule] of (p.spec.ingress || []).entries()) {
        if (!admitsPort(rule, ADMIN_PORT, adminNames)) continue;
        const peers = rule.from || [];
        if (peers.length === 0) out.push(`${where(p)}: ingress[${i}] admits ${ADMIN_PORT} from everywhere`);
        for (const peer of peers) if (!isNamedPeer(peer)) out.push(`${where(p)}: ingress[${i}] admits ${ADMIN_PORT} from ${JSON.stringify(peer)} (want a named namespace and pod labels)`);
      }
    if (!ingress.some((p) => (p.spec.ingress || []).some((r) => admitsPort(r, ADMIN_PORT, adminNames) && (r.from || []).length)))
      out.push(`${w}: no rule admits the monitoring namespace to ${ADMIN_PORT}`);
    // what the Services (and the application's own ports) send to stays reachable
    const podPorts = allContainers(spec).flatMap((x) => x.ports || []);
    const targets = [];
    for (const svc of objs.filter((o) => o.kind === 'Service' && o.spec?.selector && selects({ matchLabels: o.spec.selector }, labels)))
      for (const sp of svc.spec.ports || []) targets.push([`${where(svc)} port ${sp.name || sp.port}`, sp.targetPort ?? sp.port]);
    for (const c of spec.containers || []) if (!isCapproxy(c)) for (const q of c.ports || []) targets.push([`container ${c.name} port ${q.name || q.containerPort}`, q.containerPort]);
    for (const [what, tp] of targets) {
      const num = /^\d+$/.test(String(tp)) ? Number(tp) : podPorts.find((q) => q.name === tp)?.containerPort;
      const names = podPorts.filter((q) => q.containerPort === num).map((q) => q.name);
      if (!ingress.some((p) => (p.spec.ingress || []).some((r) => admitsPort(r, num, names)))) out.push(`${w}: ${what} (${num}) is admitted by no ingress rule`);
    }
    for (const p of mine.filter((x) => (x.spec.policyTypes || []).includes('Egress'))) {
      const eg = p.spec.egress || [];
      const allows = (port, proto) => eg.some((r) => (r.ports || []).length === 0 || r.ports.some((q) => Number(q.port) === port && (q.protocol || 'TCP') === proto));
      if (!allows(53, 'UDP')) out.push(`${where(p)}: egress blocks DNS (53/UDP)`);
      if (!allows(443, 'TCP')) out.push(`${where(p)}: egress blocks the upstream (443/TCP)`);
    }
  }
  return out;
}

/** No Secret with data: `kubectl apply` would replace the real one with it. Secrets are created
 * out of band (`kubectl create secret generic ...`), and every one the pods use is shown so in
 * the manifest's own comments with each key. */
export function checkNoSecretData(objs, text) {
  const out = [];
  for (const s of objs.filter((o) => o.kind === 'Secret'))
    if (Object.keys(s.data || {}).length || Object.keys(s.stringData || {}).length)
      out.push(`${where(s)}: a Secret with data (${Object.keys({ ...s.data, ...s.stringData }).join(', ')}) overwrites the real one on apply`);
  const used = new Map();
  for (const { spec } of podTemplates(objs)) {
    for (const c of allContainers(spec))
      for (const e of c.env || []) if (e.valueFrom?.secretKeyRef) used.set(e.valueFrom.secretKeyRef.name, new Set([...(used.get(e.valueFrom.secretKeyRef.name) || []), e.valueFrom.secretKeyRef.key]));
    for (const v of spec.volumes || []) if (v.secret) used.set(v.secret.secretName, new Set([...(used.get(v.secret.secretName) || []), ...(v.secret.items || []).map((i) => i.key)]));
  }
  const comments = text
    .split('\n')
    .filter((l) => /^\s*#/.test(l))
    .map((l) => l.replace(/^\s*#\s?/, ''))
    .join('\n')
    .replace(/\\\n/g, ' ');
  for (const [name, keys] of used) {
    const cmd = new RegExp(`kubectl create secret generic ${name}\\b[^\\n]*`).exec(comments);
    if (!cmd) {
      out.push(`Secret ${name}: used by the pods, but no "kubectl create secret generic ${name}" in the file's comments`);
      continue;
    }
    for (const k of keys) if (!new RegExp(`--from-(file|literal)=${k}=`).test(cmd[0])) out.push(`Secret ${name}: the create command does not set key ${k}`);
  }
  return out;
}

/** Images: capproxy's is capproxy:<meson version>; every image has an explicit tag or digest. */
export function checkImages(objs) {
  const out = [];
  for (const { owner, spec } of podTemplates(objs))
    for (const c of allContainers(spec)) {
      const img = c.image || '';
      const w = `${where(owner)} container ${c.name}`;
      const tagged = /@sha256:[0-9a-f]{64}$/.test(img) || /:[\w][\w.-]{0,127}$/.test(img.split('/').pop());
      if (!tagged) out.push(`${w}: image ${img} has no tag or digest`);
      else if (/:latest$/.test(img)) out.push(`${w}: image ${img}: a fixed tag, not latest`);
      if (isCapproxy(c) && img !== `capproxy:${mesonVersion}`) out.push(`${w}: image ${img}, want capproxy:${mesonVersion} (the meson project version)`);
    }
  return out;
}

/** The paths the admin listener serves, read from its source. */
const adminPaths = [...fs.readFileSync(path.join(repoRoot, 'src', 'app', 'admin.c'), 'utf8').matchAll(/str_eq\(path, "(\/[^"]+)"\)/g)].map((m) => m[1]);

/** capproxy's probes: httpGet on the admin port (the one CAPPROXY_ADMIN_LISTEN names) at a
 * path admin.c serves; liveness /healthz (the process), readiness and startup /readyz. */
export function checkProbes(objs) {
  const out = [];
  const want = { livenessProbe: '/healthz', readinessProbe: '/readyz', startupProbe: '/readyz' };
  for (const { owner, spec } of podTemplates(objs))
    for (const c of allContainers(spec).filter(isCapproxy)) {
      const w = `${where(owner)} container ${c.name}`;
      const listen = envOf(c, 'CAPPROXY_ADMIN_LISTEN') ?? '0.0.0.0:9901';
      const adminPort = Number(/:(\d+)$/.exec(listen)?.[1]);
      if (adminPort !== ADMIN_PORT) out.push(`${w}: CAPPROXY_ADMIN_LISTEN ${listen}, want port ${ADMIN_PORT}`);
      for (const [kind, p] of Object.entries(want)) {
        const probe = c[kind];
        if (!probe) {
          if (kind !== 'startupProbe') out.push(`${w}: no ${kind}`);
          continue;
        }
        const g = probe.httpGet;
        if (!g) {
          out.push(`${w}: ${kind} is not httpGet`);
          continue;
        }
        if (!adminPaths.includes(g.path)) out.push(`${w}: ${kind} path ${g.path} is not served by the admin listener (${adminPaths.join(' ')})`);
        else if (g.path !== p) out.push(`${w}: ${kind} path ${g.path}, want ${p}`);
        if (portNumber(c, g.port) !== adminPort) out.push(`${w}: ${kind} port ${g.port} is not the admin port ${adminPort}`);
      }
    }
  return out;
}

const RULES = {
  'native sidecar with a startup probe': (m) => checkNativeSidecar(m.objs),
  'no replicas in a Deployment an HPA scales': (m) => checkNoReplicasWithHpa(m.objs),
  'restricted Pod Security Standard on every container': (m) => checkRestricted(m.objs),
  'a NetworkPolicy keeps 9901 private, the Service ports reachable': (m) => checkNetworkPolicy(m.objs),
  'no Secret with data; each Secret used has its create command': (m) => checkNoSecretData(m.objs, m.text),
  'image references': (m) => checkImages(m.objs),
  'probes on the admin port at paths it serves': (m) => checkProbes(m.objs),
};

// ==================================================================================== tests

describe('Kubernetes manifests: OpenAPI schema (kubernetes-models)', () => {
  test('kubernetes-models is installed (npm ci in tests/integration)', () => {
    assert.ok(fs.existsSync(path.join(modelsRoot, 'package.json')), `${modelsRoot} is missing: run npm ci in tests/integration (scripts/setup.sh does)`);
  });

  test('the manifests are there', () => {
    assert.deepEqual(files, ['sidecar.yaml', 'standalone.yaml']);
  });

  for (const m of manifests) {
    test(`${m.file}: every object matches the schema of its apiVersion and kind`, async () => {
      assert.ok(m.objs.length > 0);
      const problems = (await Promise.all(m.objs.map(schemaProblems))).flat();
      assert.deepEqual(problems, [], `${m.file}:\n${problems.join('\n')}`);
    });
    test(`${m.file}: no field unknown to its kind (kubectl --validate=strict)`, () => {
      const problems = m.objs.flatMap(unknownFieldProblems);
      assert.deepEqual(problems, [], `${m.file}:\n${problems.join('\n')}`);
    });
  }

  test('the validator fails on a wrong object: replicas "two", an unknown kind, a bad enum', async () => {
    const dep = structuredClone(manifests.flatMap((m) => m.objs).find((o) => o.kind === 'Deployment'));
    dep.spec.replicas = 'two';
    assert.deepEqual(await schemaProblems(dep), [`${where(dep)}: /spec/replicas must be integer`]);
    const svc = structuredClone(manifests.flatMap((m) => m.objs).find((o) => o.kind === 'Service'));
    svc.spec.ports[0].protocol = 'TPC';
    const p = await schemaProblems(svc);
    assert.ok(p.some((x) => x.includes('/spec/ports/0/protocol')), p.join('\n'));
    assert.match((await schemaProblems({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }))[0], /no schema for apiVersion apps\/v1 kind Deploymnet/);
    assert.match((await schemaProblems({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 1 } }))[0], /\/data\/a must be string/);
  });

  test('the unknown-field check fails on a misspelt field, however deep', () => {
    const sidecar = manifests.find((m) => m.file === 'sidecar.yaml');
    const dep = structuredClone(sidecar.objs.find((o) => o.kind === 'Deployment'));
    const cp = dep.spec.template.spec.initContainers[0];
    cp.restartpolicy = cp.restartPolicy;
    delete cp.restartPolicy;
    cp.env[0].valueFrom = { secretKeyRef: { name: 'a', key: 'b', optinal: true } };
    dep.metadata.labels.fine = 'labels are a map: any key';
    cp.startupProbe.httpGet.paht = '/readyz';
    const p = unknownFieldProblems(dep).sort();
    assert.equal(p.length, 3, p.join('\n'));
    assert.match(p[0], /\/initContainers\/0\/env\/0\/valueFrom\/secretKeyRef\/optinal: unknown field \(SecretKeySelector has key, name, optional\)/);
    assert.match(p[1], /\/spec\/template\/spec\/initContainers\/0\/restartpolicy: unknown field \(Container has .*restartPolicy/);
    assert.match(p[2], /\/initContainers\/0\/startupProbe\/httpGet\/paht: unknown field/);
    const np = structuredClone(manifests.flatMap((m) => m.objs).find((o) => o.kind === 'NetworkPolicy'));
    np.spec.ingress[0].form = [];
    np.spec.ingress[1].from[0].namespaceSelector.matchLabel = {};
    assert.match(unknownFieldProblems(np).join('\n'), /\/spec\/ingress\/0\/form: unknown field/);
    assert.match(unknownFieldProblems(np).join('\n'), /\/spec\/ingress\/1\/from\/0\/namespaceSelector\/matchLabel: unknown field/);
  });
});

describe('Kubernetes manifests: policy', () => {
  for (const [name, rule] of Object.entries(RULES))
    for (const m of manifests)
      test(`${m.file}: ${name}`, () => {
        const problems = rule(m);
        assert.deepEqual(problems, [], `${m.file}:\n${problems.join('\n')}`);
      });

  // Each rule against a copy broken the way it is meant to catch.
  const sidecar = () => structuredClone(manifests.find((m) => m.file === 'sidecar.yaml'));
  const standalone = () => structuredClone(manifests.find((m) => m.file === 'standalone.yaml'));
  const pod = (m) => m.objs.find((o) => o.kind === 'Deployment').spec.template.spec;
  const one = (problems, re) => {
    assert.ok(problems.some((p) => re.test(p)), `expected ${re} in:\n${problems.join('\n') || '(no problem found)'}`);
  };

  test('the rules catch what they are for (a broken copy of each manifest)', () => {
    // native sidecar: capproxy back among the containers; restartPolicy dropped; no startup probe
    let m = sidecar();
    let s = pod(m);
    s.containers.push(s.initContainers.shift());
    one(checkNativeSidecar(m.objs), /must be in initContainers/);
    m = sidecar();
    delete pod(m).initContainers[0].restartPolicy;
    one(checkNativeSidecar(m.objs), /restartPolicy must be Always/);
    m = sidecar();
    delete pod(m).initContainers[0].startupProbe;
    one(checkNativeSidecar(m.objs), /a startupProbe/);
    m = sidecar();
    pod(m).initContainers.unshift({ name: 'migrate', image: 'migrate:1' });
    one(checkNativeSidecar(m.objs), /init container migrate before it/);

    // replicas with an HPA
    m = standalone();
    m.objs.find((o) => o.kind === 'Deployment').spec.replicas = 2;
    one(checkNoReplicasWithHpa(m.objs), /spec\.replicas 2 with HorizontalPodAutoscaler\/capproxy/);

    // restricted: the application's securityContext thinned, the pod's seccomp off, a hostPath
    m = sidecar();
    s = pod(m);
    delete s.containers[0].securityContext.capabilities;
    s.containers[0].securityContext.allowPrivilegeEscalation = true;
    one(checkRestricted(m.objs), /container app: capabilities must drop ALL/);
    one(checkRestricted(m.objs), /container app: allowPrivilegeEscalation must be false/);
    m = sidecar();
    s = pod(m);
    delete s.securityContext.runAsNonRoot;
    delete s.containers[0].securityContext.runAsNonRoot;
    delete s.containers[0].securityContext.seccompProfile;
    s.securityContext.seccompProfile.type = 'Unconfined';
    s.volumes.push({ name: 'host', hostPath: { path: '/' } });
    one(checkRestricted(m.objs), /container app: runAsNonRoot must be true/);
    one(checkRestricted(m.objs), /container app: seccompProfile .* not Unconfined/);
    one(checkRestricted(m.objs), /volume host of type hostPath/);
    m = standalone();
    m.objs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'capproxy', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } });
    one(checkRestricted(m.objs), /Namespace\/capproxy: label pod-security/);

    // NetworkPolicy: none; 9901 open to every pod; the Service's mcp port left out; DNS blocked
    m = standalone();
    m.objs = m.objs.filter((o) => o.kind !== 'NetworkPolicy');
    one(checkNetworkPolicy(m.objs), /no NetworkPolicy \(Ingress\) selects the pod/);
    m = standalone();
    let np = m.objs.find((o) => o.kind === 'NetworkPolicy');
    np.spec.ingress[0].ports.push({ port: 9901, protocol: 'TCP' });
    one(checkNetworkPolicy(m.objs), /ingress\[0\] admits 9901 from .*capproxy\/client/);
    m = standalone();
    np = m.objs.find((o) => o.kind === 'NetworkPolicy');
    np.spec.ingress.push({}); // "allow all"
    one(checkNetworkPolicy(m.objs), /ingress\[2\] admits 9901 from everywhere/);
    m = standalone();
    np = m.objs.find((o) => o.kind === 'NetworkPolicy');
    np.spec.ingress[0].ports = np.spec.ingress[0].ports.filter((p) => p.port !== 9090);
    one(checkNetworkPolicy(m.objs), /Service\/capproxy port mcp \(9090\) is admitted by no ingress rule/);
    m = standalone();
    np = m.objs.find((o) => o.kind === 'NetworkPolicy');
    np.spec.egress.shift();
    one(checkNetworkPolicy(m.objs), /egress blocks DNS/);
    m = sidecar();
    np = m.objs.find((o) => o.kind === 'NetworkPolicy');
    np.spec.ingress.shift();
    one(checkNetworkPolicy(m.objs), /container app port http \(8000\) is admitted by no ingress rule/);

    // a placeholder Secret back in the file; a create command without a key
    m = standalone();
    m.objs.unshift({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cal-com-credentials' }, stringData: { 'api-key': 'REPLACE-ME' } });
    one(checkNoSecretData(m.objs, m.text), /Secret\/cal-com-credentials: a Secret with data \(api-key\)/);
    m = standalone();
    one(checkNoSecretData(m.objs, m.text.replace('--from-literal=session-key=', '--from-literal=sesion-key=')), /Secret capproxy-session-key: the create command does not set key session-key/);
    one(checkNoSecretData(m.objs, m.text.replace(/kubectl create secret generic cal-com-credentials/g, 'kubectl create secret')), /no "kubectl create secret generic cal-com-credentials"/);

    // images
    m = sidecar();
    s = pod(m);
    s.containers[0].image = 'ghcr.io/example/app';
    s.initContainers[0].image = 'capproxy:latest';
    one(checkImages(m.objs), /container app: image ghcr.io\/example\/app has no tag/);
    one(checkImages(m.objs), /container capproxy: image capproxy:latest: a fixed tag/);
    one(checkImages(m.objs), new RegExp(`want capproxy:${mesonVersion.replace(/\./g, '\\.')}`));

    // probes: a path the admin listener does not serve; the REST port; liveness on /readyz
    m = standalone();
    let c = pod(m).containers[0];
    c.readinessProbe.httpGet.path = '/ready';
    c.livenessProbe.httpGet.port = 8080;
    one(checkProbes(m.objs), /readinessProbe path \/ready is not served by the admin listener/);
    one(checkProbes(m.objs), /livenessProbe port 8080 is not the admin port 9901/);
    m = sidecar();
    c = pod(m).initContainers[0];
    c.livenessProbe.httpGet.path = '/readyz';
    one(checkProbes(m.objs), /livenessProbe path \/readyz, want \/healthz/);
  });

  test('the admin listener serves /healthz and /readyz (read from src/app/admin.c)', () => {
    for (const p of ['/healthz', '/readyz', '/metrics']) assert.ok(adminPaths.includes(p), `admin.c serves ${p}: ${adminPaths}`);
  });
});
