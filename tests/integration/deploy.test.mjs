// The container image recipe and the Kubernetes manifests, checked without a Docker engine:
//
//   (a) Dockerfile: parsed here (instructions, stages, ARG/ENV values, apt-get install lists)
//       and checked: a build stage on the digest-pinned Debian base, a runtime stage FROM
//       scratch, apt hygiene without version pins, a non-root numeric USER, ports, STOPSIGNAL,
//       HEALTHCHECK, ENTRYPOINT/CMD, ENV, labels, .dockerignore;
//   (b) the build stage has every shared library `ldd build/capproxy` lists (library -> Debian
//       package with dpkg -S, then: installed by the stage, a dependency of one it installs, or
//       in the base image), and copies what ldd resolves into the runtime file system;
//   (c) deploy/kubernetes/*.yaml: kinds, containers, probes against the admin port, Secrets
//       referenced by name and key and created with kubectl as documented, securityContext, resources, HPA target, Service selector,
//       grace period against the drain deadline; the manifests' environment through the real
//       binary (`capproxy validate` and `routes`); schemas and policy: k8s.test.mjs;
//   (d) lint: deploy/lint-dockerfile.mjs (dockerfile-utils) when that package is installed.
//   And the image's ENV + CMD run by the real binary, with the HEALTHCHECK command and the
//   probes' paths against its admin listener.
//
// CAPPROXY_DEPLOY_DIR=DIR takes Dockerfile, .dockerignore and deploy/ from DIR instead of the
// repository (to check that a broken copy fails); everything else comes from the repository.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { repoRoot, binPath, startProxy, runCapproxy } from './capproxy.mjs';
import { loadManifests } from './manifests.mjs';

const SCALE = Number(process.env.CAPPROXY_TEST_TIMEOUT_SCALE || (process.env.CAPPROXY_BIN ? 3 : 1));
const deployRoot = path.resolve(process.env.CAPPROXY_DEPLOY_DIR || repoRoot);
const dockerfilePath = path.join(deployRoot, 'Dockerfile');
const k8sDir = path.join(deployRoot, 'deploy', 'kubernetes');
const mesonVersion = /project\([^)]*?version\s*:\s*'([^']+)'/s.exec(
  fs.readFileSync(path.join(repoRoot, 'meson.build'), 'utf8'),
)[1];

// ============================================================================ Dockerfile parser

/** Split a shell-ish string into words (quotes and backslashes honoured, no expansion). */
export function shellWords(s) {
  const out = [];
  let cur = '';
  let inWord = false;
  let q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      q = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q) throw new Error(`unterminated ${q} quote in: ${s}`);
  if (inWord) out.push(cur);
  return out;
}

/** ${VAR}, ${VAR:-default}, $VAR from vars (unknown: empty). */
export function expandVars(s, vars) {
  return s.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (_, a, def, b) => {
    const v = vars[a || b];
    return v !== undefined && v !== '' ? v : def !== undefined ? def : '';
  });
}

/** KEY=VALUE pairs (ENV, LABEL, ARG); the legacy `ENV KEY VALUE` form too. */
function parsePairs(args) {
  const words = shellWords(args);
  if (words.length && !words[0].includes('=')) return [[words[0], words.slice(1).join(' ')]];
  return words.map((w) => {
    const i = w.indexOf('=');
    assert.ok(i > 0, `not KEY=VALUE: ${w}`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * Parse a Dockerfile into {directives, globalArgs, instructions, stages}. An instruction is
 * {keyword, args (text), json (array for the exec form, else null), flags ({name: value} of
 * leading --flags), line}. A stage is {index, image, name, instructions, vars} where vars
 * are the ARG and ENV values in force at its end (global ARG defaults when redeclared).
 */
export function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  const directives = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) break;
    directives[m[1].toLowerCase()] = m[2];
  }
  const esc = directives.escape || '\\';
  const contRe = new RegExp(`${esc.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}[ \\t]*$`);
  const instructions = [];
  let cur = null;
  for (; i < lines.length; i++) {
    const raw = lines[i];
    const t = raw.trim();
    if (cur === null) {
      if (t === '' || t.startsWith('#')) continue;
      cur = { line: i + 1, text: '' };
    } else if (t === '' || t.startsWith('#')) {
      continue; // comments and empty lines inside a continued instruction
    }
    if (contRe.test(raw)) {
      cur.text += raw.replace(contRe, '');
      continue;
    }
    cur.text += raw;
    instructions.push(cur);
    cur = null;
  }
  if (cur) instructions.push(cur);

  const parsed = instructions.map(({ line, text: full }) => {
    const m = /^\s*(\S+)\s*(.*)$/s.exec(full);
    const keyword = m[1].toUpperCase();
    let rest = m[2].trim();
    const flags = {};
    if (['FROM', 'COPY', 'ADD', 'RUN', 'HEALTHCHECK'].includes(keyword)) {
      let f;
      while ((f = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest))) {
        flags[f[1]] = f[2] ?? true;
        rest = rest.slice(f[0].length);
      }
    }
    let json = null;
    const body = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/i, '') : rest;
    if (body.startsWith('[')) {
      try {
        const v = JSON.parse(body);
        if (Array.isArray(v) && v.every((x) => typeof x === 'string')) json = v;
      } catch {
        /* shell form that starts with [ */
      }
    }
    return { keyword, args: rest, json, flags, line };
  });

  const globalArgs = {};
  const stages = [];
  let stage = null;
  for (const ins of parsed) {
    if (ins.keyword === 'FROM') {
      const w = shellWords(ins.args);
      const asIdx = w.findIndex((x) => x.toUpperCase() === 'AS');
      stage = {
        index: stages.length,
        image: expandVars(w[0], globalArgs),
        name: asIdx > 0 ? w[asIdx + 1] : null,
        line: ins.line,
        instructions: [],
        vars: {},
      };
      stages.push(stage);
      continue;
    }
    if (!stage) {
      if (ins.keyword === 'ARG') for (const [k, v] of parsePairsArg(ins.args)) globalArgs[k] = v ?? '';
      else assert.fail(`Dockerfile:${ins.line}: only ARG may come before the first FROM, not ${ins.keyword}`);
      continue;
    }
    stage.instructions.push(ins);
    if (ins.keyword === 'ARG') {
      for (const [k, v] of parsePairsArg(ins.args)) stage.vars[k] = v ?? globalArgs[k] ?? '';
    } else if (ins.keyword === 'ENV') {
      for (const [k, v] of parsePairs(ins.args)) stage.vars[k] = expandVars(v, stage.vars);
    }
  }
  return { directives, globalArgs, instructions: parsed, stages };
}

function parsePairsArg(args) {
  return shellWords(args).map((w) => {
    const i = w.indexOf('=');
    return i < 0 ? [w, undefined] : [w.slice(0, i), w.slice(i + 1)];
  });
}

/** The simple commands of a shell-form RUN (split on && || ; | outside quotes), each as words. */
function runCommands(ins) {
  const text = ins.json ? ins.json.join(' ') : ins.args;
  const parts = [];
  let cur = '';
  let q = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === q) q = null;
      cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      cur += c;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
    } else if (c === ';' || c === '|' || (c === '&' && text[i + 1] === '&')) {
      if (text[i + 1] === c) i++;
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts.map((c) => shellWords(c.trim())).filter((w) => w.length);
}

/** apt-get install lists of a stage: [{name, version, spec, line, run}] (versions expanded). */
function aptInstalls(stage) {
  const out = [];
  for (const ins of stage.instructions.filter((x) => x.keyword === 'RUN')) {
    for (const words of runCommands(ins)) {
      const a = words.indexOf('apt-get');
      if (a < 0) continue;
      let j = a + 1;
      while (j < words.length && words[j].startsWith('-')) j += words[j] === '-o' ? 2 : 1;
      if (words[j] !== 'install') continue;
      for (let k = j + 1; k < words.length; k++) {
        const w = words[k];
        if (w === '-o') {
          k++;
          continue;
        }
        if (w.startsWith('-')) continue;
        const spec = expandVars(w, stage.vars);
        const [name, version] = spec.split('=');
        out.push({ name, version: version ?? null, raw: w, line: ins.line, run: ins });
      }
    }
  }
  return out;
}

/** The runtime stage's COPY --from=<build> of the binary that ENTRYPOINT runs (or undefined). */
function binaryCopy() {
  const ep = last(runtime, 'ENTRYPOINT')?.json?.[0];
  return all(runtime, 'COPY').find((x) => x.flags.from && shellWords(x.args).pop() === ep);
}

function last(stage, keyword) {
  return stage.instructions.filter((x) => x.keyword === keyword).pop();
}
function all(stage, keyword) {
  return stage.instructions.filter((x) => x.keyword === keyword);
}
function hostPort(s) {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

/** COPY sources from the build context, with destinations resolved against WORKDIR. */
function contextCopies(stage, beforeLine = Infinity) {
  let workdir = '/';
  const out = [];
  for (const ins of stage.instructions) {
    if (ins.line >= beforeLine) break;
    if (ins.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, expandVars(ins.args, stage.vars));
    if ((ins.keyword === 'COPY' || ins.keyword === 'ADD') && !ins.flags.from) {
      const w = ins.json || shellWords(ins.args);
      const dest = path.posix.resolve(workdir, w[w.length - 1]);
      for (const src of w.slice(0, -1)) out.push({ src: src.replace(/^\.\//, ''), dest, destIsDir: w[w.length - 1].endsWith('/'), ins });
    }
  }
  return out;
}

/** Map an absolute path in the image to the repository path it was copied from (or null). */
function imageToRepo(stage, imagePath) {
  for (const c of contextCopies(stage)) {
    const srcIsDir = c.src.endsWith('/') || fs.statSync(path.join(repoRoot, c.src)).isDirectory();
    if (srcIsDir) {
      const rel = path.posix.relative(c.dest, imagePath);
      if (!rel.startsWith('..') && !path.posix.isAbsolute(rel)) return path.join(repoRoot, c.src, rel);
    } else {
      const dest = c.destIsDir ? path.posix.join(c.dest, path.posix.basename(c.src)) : c.dest;
      if (dest === imagePath) return path.join(repoRoot, c.src);
    }
  }
  return null;
}

// .dockerignore: Go filepath.Match patterns, ** for any depth, ! exceptions, last match wins;
// a path is excluded when it or one of its parent directories matches.
function dockerignoreMatcher(text) {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const neg = l.startsWith('!');
      let p = (neg ? l.slice(1) : l).trim();
      p = path.posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < p.length; i++) {
        const c = p[i];
        if (c === '*' && p[i + 1] === '*') {
          re += p[i + 2] === '/' ? '(?:.*/)?' : '.*';
          i += p[i + 2] === '/' ? 2 : 1;
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else if (c === '[') {
          const j = p.indexOf(']', i);
          re += p.slice(i, j + 1);
          i = j;
        } else re += c.replace(/[\\^$.+(){}|]/g, '\\$&');
      }
      return { neg, pattern: l, re: new RegExp(`^${re}$`) };
    });
  return (rel) => {
    const parts = rel.split('/');
    let excluded = false;
    for (const r of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (r.re.test(parts.slice(0, n).join('/'))) {
          excluded = !r.neg;
          break;
        }
      }
    }
    return excluded;
  };
}

function walk(dir, base = dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, base));
    else out.push(path.relative(base, p).split(path.sep).join('/'));
  }
  return out;
}

// ================================================================================== loading

const dockerText = fs.readFileSync(dockerfilePath, 'utf8');
const df = parseDockerfile(dockerText);
const build = df.stages[0];
const runtime = df.stages[df.stages.length - 1];
const runtimeEnv = Object.fromEntries(
  all(runtime, 'ENV').flatMap((ins) => parsePairs(ins.args).map(([k, v]) => [k, expandVars(v, runtime.vars)])),
);
const runtimeUser = last(runtime, 'USER') ? expandVars(last(runtime, 'USER').args, runtime.vars) : null;
const runtimeUid = runtimeUser ? runtimeUser.split(':')[0] : null;

const loadK8s = (file) => loadManifests(k8sDir, file);

function parseCpu(q) {
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}
function parseMemory(q) {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  assert.ok(m, `bad memory quantity ${q}`);
  const mult = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}
/** capproxy durations: ms, s, m; a bare number is milliseconds. */
function parseDurationMs(s) {
  const m = /^(\d+)(ms|s|m)?$/.exec(String(s).trim());
  assert.ok(m, `bad duration ${s}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[m[2] || 'ms']);
}

const binaryBytes = fs.existsSync(binPath) ? fs.readFileSync(binPath) : null;
const knownText = [
  fs.readFileSync(path.join(repoRoot, 'config', 'capproxy.yaml'), 'utf8'),
  ...fs
    .readdirSync(path.join(repoRoot, 'capabilities'), { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(repoRoot, 'capabilities', e.name), 'utf8')),
].join('\n');
/** An environment variable capproxy reads: named in the binary or the shipped files. */
function knownVariable(name) {
  if (name.startsWith('CAPPROXY_')) return binaryBytes !== null && binaryBytes.includes(Buffer.from(name + '\0'));
  return new RegExp(`\\b${name}\\b`).test(knownText);
}

// ================================================================== (a) Dockerfile structure

describe('Dockerfile', () => {
  test('two stages: build FROM the digest-pinned debian:bookworm-slim (ARG BASE), runtime FROM scratch; the runtime stage takes the binary from the build stage', () => {
    assert.equal(df.stages.length, 2, `stages: ${df.stages.map((s) => s.image).join(', ')}`);
    // pinned by digest: the same base on every build (a tag moves; apt brings the updates)
    assert.match(df.globalArgs.BASE ?? '', /^(docker\.io\/library\/)?debian:bookworm-slim@sha256:[0-9a-f]{64}$/, 'ARG BASE=debian:bookworm-slim@sha256:<digest> before the first FROM');
    assert.equal(build.image, df.globalArgs.BASE, `Dockerfile:${build.line}: the build stage is FROM \${BASE}`);
    assert.equal(runtime.image, 'scratch', `Dockerfile:${runtime.line}: the runtime stage is FROM scratch (only what the build stage assembles)`);
    assert.ok(build.name, 'the build stage is named (FROM ... AS build)');
    const fromCopies = all(runtime, 'COPY').filter((c) => c.flags.from);
    assert.ok(fromCopies.length >= 1, 'the runtime stage copies from the build stage');
    for (const c of fromCopies) assert.equal(c.flags.from, build.name, `Dockerfile:${c.line}: COPY --from names the build stage`);
    assert.ok(!all(runtime, 'ADD').length, 'COPY, not ADD (DL3020)');
  });

  test('build stage: the build packages, meson setup --buildtype=release, ninja builds only capproxy', () => {
    const names = aptInstalls(build).map((p) => p.name);
    for (const p of ['build-essential', 'meson', 'ninja-build', 'pkg-config', 'libevent-dev', 'libcurl4-openssl-dev', 'libyaml-dev', 'libcjson-dev'])
      assert.ok(names.includes(p), `build stage installs ${p} (has: ${names.join(' ')})`);
    const cmds = all(build, 'RUN').flatMap(runCommands);
    const setup = cmds.find((w) => w[0] === 'meson' && w[1] === 'setup');
    assert.ok(setup, 'meson setup');
    assert.ok(setup.includes('--buildtype=release'), `meson setup --buildtype=release: ${setup.join(' ')}`);
    const buildDir = setup.filter((w) => !w.startsWith('-'))[2];
    const ninja = cmds.find((w) => w[0] === 'ninja');
    assert.ok(ninja, 'ninja');
    const c = ninja.indexOf('-C');
    assert.equal(ninja[c + 1], buildDir, 'ninja -C the meson build directory');
    assert.deepEqual(ninja.filter((w, k) => !w.startsWith('-') && k > c + 1), ['capproxy'], `only the capproxy target: ${ninja.join(' ')}`);
    // the runtime stage copies exactly that binary
    let workdir;
    const runIns = all(build, 'RUN').find((r) => runCommands(r).some((w) => w[0] === 'ninja'));
    workdir = '/';
    for (const ins of build.instructions) if (ins.keyword === 'WORKDIR' && ins.line < runIns.line) workdir = path.posix.resolve(workdir, ins.args);
    const built = path.posix.join(workdir, buildDir, 'capproxy');
    const copy = binaryCopy();
    assert.ok(copy, `a COPY --from=${build.name} of the binary to the ENTRYPOINT`);
    assert.equal(shellWords(copy.args)[0], built, `COPY --from=${build.name} takes ${built}`);
  });

  test('build stage copies everything meson.build reads before meson setup', () => {
    const setupRun = all(build, 'RUN').find((r) => runCommands(r).some((w) => w[0] === 'meson' && w[1] === 'setup'));
    const copied = contextCopies(build, setupRun.line).map((c) => c.src.replace(/\/$/, ''));
    const covered = (p) => copied.some((c) => p === c || p.startsWith(c + '/'));
    const meson = fs.readFileSync(path.join(repoRoot, 'meson.build'), 'utf8').replace(/#.*$/gm, '');
    const needed = new Set(['meson.build']);
    for (const opt of ['meson_options.txt', 'meson.options']) if (fs.existsSync(path.join(repoRoot, opt))) needed.add(opt);
    for (const m of meson.matchAll(/'([^'\n]+)'/g)) {
      const s = m[1];
      if (/^[\w.-]+(\/[\w.-]*)+$/.test(s) || /^[\w./-]+\.[ch]$/.test(s)) needed.add(s.replace(/\/$/, ''));
    }
    for (const m of meson.matchAll(/subdir\(\s*'([^']+)'/g)) needed.add(m[1]);
    const missing = [...needed].filter((p) => !covered(p));
    assert.deepEqual(missing, [], `not copied into the build stage before meson setup (copied: ${copied.join(', ')})`);
  });

  test('apt-get: update, upgrade, -y, --no-install-recommends and lists removed in the same RUN; no version pins; noninteractive', () => {
    for (const stage of df.stages) {
      for (const ins of all(stage, 'RUN')) {
        const cmds = runCommands(ins);
        assert.ok(!cmds.some((w) => w[0] === 'apt'), `Dockerfile:${ins.line}: apt-get, not apt (DL3027)`);
        const iInstall = cmds.findIndex((w) => w[0] === 'apt-get' && w.includes('install'));
        if (iInstall < 0) continue;
        const inst = cmds[iInstall];
        const iUpdate = cmds.findIndex((w) => w[0] === 'apt-get' && w.includes('update'));
        assert.ok(iUpdate >= 0 && iUpdate < iInstall, `Dockerfile:${ins.line}: apt-get update in the same RUN, before install`);
        assert.ok(inst.some((w) => w === '-y' || w === '--yes' || /^-[a-z]*y[a-z]*$/.test(w)), `Dockerfile:${ins.line}: apt-get install -y`);
        assert.ok(inst.includes('--no-install-recommends'), `Dockerfile:${ins.line}: --no-install-recommends (DL3015)`);
        const iRm = cmds.findIndex((w) => w[0] === 'rm' && w.includes('/var/lib/apt/lists/*'));
        assert.ok(iRm > iInstall, `Dockerfile:${ins.line}: rm -rf /var/lib/apt/lists/* after install (DL3009)`);
      }
      // an exact Debian version fails to install the day the next security update replaces it
      for (const p of aptInstalls(stage))
        assert.equal(p.version, null, `Dockerfile:${p.line}: ${p.raw}: no version pin (the base image is pinned by digest instead)`);
    }
    const cmds = all(build, 'RUN').flatMap(runCommands);
    assert.ok(
      cmds.some((w) => w[0] === 'apt-get' && (w.includes('upgrade') || w.includes('dist-upgrade'))),
      'the build stage takes the current security updates of the base packages (apt-get upgrade): the runtime libraries come from it',
    );
    assert.equal(build.vars.DEBIAN_FRONTEND, 'noninteractive', 'DEBIAN_FRONTEND=noninteractive in the build stage');
    assert.ok(!all(build, 'ENV').some((e) => /DEBIAN_FRONTEND/.test(e.args)), 'DEBIAN_FRONTEND as an ARG, not an ENV that stays in the image');
    assert.ok(!/DEBIAN_FRONTEND/.test(JSON.stringify(runtimeEnv)), 'no DEBIAN_FRONTEND in the runtime image');
  });

  test('runtime stage: no packages, no shell; its file system is the build stage\'s /rootfs, the binary and the documents', () => {
    assert.deepEqual(aptInstalls(runtime), [], 'no apt-get in the runtime stage');
    for (const r of all(runtime, 'RUN')) assert.ok(r.json, `Dockerfile:${r.line}: RUN in exec form (there is no shell FROM scratch)`);
    const rootfs = all(runtime, 'COPY').filter((c) => c.flags.from === build.name && shellWords(c.args).pop() === '/');
    assert.equal(rootfs.length, 1, 'one COPY --from=build <rootfs>/ /');
    const dir = shellWords(rootfs[0].args)[0].replace(/\/$/, '');
    // ldd's libraries, the loader included (ldd prints it as a bare path), into that tree
    const text = all(build, 'RUN').map((r) => r.args).join('\n');
    assert.match(text, new RegExp(`ldd build/capproxy[^\\n]*\\| *sort -u \\| *xargs -r cp --parents -L -t ${dir}`), `the build stage copies what ldd resolves into ${dir}`);
    assert.match(text, new RegExp(`ldconfig -r ${dir}`), 'and makes its ld.so.cache');
    assert.match(text, new RegExp(`ca-certificates\\.crt ${dir}/etc/ssl/certs/`), 'the CA bundle libcurl reads');
    assert.ok(aptInstalls(build).some((p) => p.name === 'ca-certificates'), 'the build stage installs ca-certificates');
  });

  test('runtime stage: a non-root numeric USER, created with that uid, before ENTRYPOINT', () => {
    assert.ok(runtimeUser, 'USER in the runtime stage');
    const [uid, gid] = runtimeUser.split(':');
    assert.match(uid, /^\d+$/, `numeric uid (Kubernetes runAsNonRoot can only verify a number): USER ${runtimeUser}`);
    assert.notEqual(Number(uid), 0, 'uid is not 0');
    if (gid !== undefined) {
      assert.match(gid, /^\d+$/, 'numeric gid');
      assert.notEqual(Number(gid), 0, 'gid is not 0');
    }
    // FROM scratch: the build stage writes the runtime's /etc/passwd and /etc/group
    const text = all(build, 'RUN').map((r) => r.args).join('\n');
    assert.match(text, new RegExp(`\\\\n\\w+:x:${uid}:${gid ?? '\\d+'}:[^'\\n]*' *>\\S*/etc/passwd`), `an /etc/passwd entry with uid ${uid}`);
    if (gid !== undefined) assert.match(text, new RegExp(`\\w+:x:${gid}:[^'\\n]*' *>\\S*/etc/group`), `an /etc/group entry with gid ${gid}`);
    const user = last(runtime, 'USER');
    const ep = last(runtime, 'ENTRYPOINT');
    assert.ok(user.line < ep.line, 'USER comes before ENTRYPOINT');
  });

  test('runtime stage: WORKDIR /app, the binary, capabilities/ and config/; ENTRYPOINT capproxy; CMD names copied files', () => {
    assert.equal(last(runtime, 'WORKDIR')?.args, '/app');
    const ep = last(runtime, 'ENTRYPOINT');
    assert.ok(ep?.json, 'ENTRYPOINT in exec form (JSON array, DL3025)');
    assert.equal(ep.json.length, 1);
    assert.equal(path.posix.basename(ep.json[0]), 'capproxy');
    assert.ok(binaryCopy(), 'ENTRYPOINT runs the binary copied from the build stage');
    const cmd = last(runtime, 'CMD');
    assert.ok(cmd?.json, 'CMD in exec form');
    assert.deepEqual(cmd.json, ['-c', '/app/config/capproxy.yaml', '/app/capabilities']);
    for (const p of cmd.json.filter((a) => a.startsWith('/'))) {
      const repo = imageToRepo(runtime, p);
      assert.ok(repo && fs.existsSync(repo), `${p} is copied into the image from the repository (${repo})`);
    }
    for (const src of ['capabilities', 'config']) {
      const c = contextCopies(runtime).find((x) => x.src.replace(/\/$/, '') === src);
      assert.ok(c, `COPY ${src}/`);
      assert.equal(c.dest, `/app/${src}`);
    }
  });

  test('EXPOSE 8080 9090 9901, matching the listeners in ENV; STOPSIGNAL SIGTERM', () => {
    const exposed = all(runtime, 'EXPOSE').flatMap((e) => shellWords(e.args).map((p) => Number(p.replace(/\/tcp$/, ''))));
    for (const p of [8080, 9090, 9901]) assert.ok(exposed.includes(p), `EXPOSE ${p} (has ${exposed.join(' ')})`);
    for (const v of ['CAPPROXY_REST_LISTEN', 'CAPPROXY_MCP_LISTEN', 'CAPPROXY_ADMIN_LISTEN'])
      assert.ok(exposed.includes(hostPort(runtimeEnv[v]).port), `the ${v} port is exposed`);
    assert.equal(last(runtime, 'STOPSIGNAL')?.args, 'SIGTERM');
  });

  test('HEALTHCHECK: GET /healthz on the admin port, by `capproxy healthcheck` (or a tool the runtime stage installs)', () => {
    const hcs = all(runtime, 'HEALTHCHECK');
    assert.equal(hcs.length, 1, 'one HEALTHCHECK');
    const hc = hcs[0];
    assert.ok(!/^NONE$/i.test(hc.args), 'not HEALTHCHECK NONE');
    assert.match(hc.args, /^CMD\s/i, 'HEALTHCHECK CMD');
    for (const f of ['interval', 'timeout', 'retries']) assert.ok(hc.flags[f], `HEALTHCHECK --${f}`);
    const argv = hc.json || shellWords(hc.args.replace(/^CMD\s+/i, ''));
    assert.ok(hc.json, 'HEALTHCHECK CMD in exec form (no shell in the image)');
    if (path.posix.basename(argv[0]) === 'capproxy') {
      // the subcommand reads CAPPROXY_ADMIN_LISTEN and the file: the port follows the ENV
      assert.equal(argv[0], last(runtime, 'ENTRYPOINT').json[0], 'the image\'s own binary');
      assert.equal(argv[1], 'healthcheck');
      const c = argv.indexOf('-c');
      assert.deepEqual(c > 0 ? argv[c + 1] : null, last(runtime, 'CMD').json[1], 'the configuration file the CMD serves with');
      return;
    }
    const url = argv.find((a) => /^https?:\/\//.test(a));
    assert.ok(url, `a URL in ${argv.join(' ')}`);
    const u = new URL(url);
    assert.equal(u.pathname, '/healthz');
    assert.ok(['127.0.0.1', 'localhost'].includes(u.hostname), 'the container itself');
    assert.equal(Number(u.port), hostPort(runtimeEnv.CAPPROXY_ADMIN_LISTEN).port, 'the port of CAPPROXY_ADMIN_LISTEN');
    const tool = path.posix.basename(argv[0]);
    const pkgs = aptInstalls(runtime).map((p) => p.name);
    assert.ok(tool === 'capproxy' || pkgs.includes(tool), `${tool} is installed by the runtime stage (${pkgs.join(' ')})`);
    if (tool === 'curl') {
      assert.ok(argv.includes('-f') || argv.includes('--fail') || argv.some((a) => /^-[a-zA-Z]*f/.test(a)), 'curl -f: an HTTP error fails the check');
      assert.ok(argv.includes('--max-time') || argv.includes('-m'), 'curl --max-time');
    }
  });

  test('ENV: listeners for a container, JSON logs; every variable is one capproxy reads', () => {
    assert.equal(runtimeEnv.CAPPROXY_REST_LISTEN, '0.0.0.0:8080');
    assert.equal(runtimeEnv.CAPPROXY_MCP_LISTEN, '0.0.0.0:9090');
    assert.equal(runtimeEnv.CAPPROXY_ADMIN_LISTEN, '0.0.0.0:9901');
    assert.equal(runtimeEnv.CAPPROXY_LOG_FORMAT, 'json');
    assert.ok(binaryBytes, `${binPath} exists`);
    // Only variables capproxy itself reads: it skips GnuTLS's load-time initialisation on its
    // own (src/app/procmem.c), so the image no longer needs GNUTLS_NO_IMPLICIT_INIT.
    for (const k of Object.keys(runtimeEnv)) assert.ok(knownVariable(k), `ENV ${k}: not a variable capproxy reads`);
    for (const k of Object.keys(runtimeEnv))
      assert.ok(!/SECRET|PASSWORD|TOKEN|_KEY$|API_KEY/.test(k), `no secret baked into the image: ENV ${k}`);
  });

  test('OCI labels; the version label is the meson project version', () => {
    const labels = Object.fromEntries(
      all(runtime, 'LABEL').flatMap((ins) => parsePairs(ins.args).map(([k, v]) => [k, expandVars(v, runtime.vars)])),
    );
    for (const k of ['title', 'description', 'version', 'licenses'])
      assert.ok(labels[`org.opencontainers.image.${k}`], `LABEL org.opencontainers.image.${k}`);
    assert.equal(labels['org.opencontainers.image.version'], mesonVersion);
  });

  test('.dockerignore keeps build output, node_modules and .git out, and everything COPY takes in', () => {
    const ignored = dockerignoreMatcher(fs.readFileSync(path.join(deployRoot, '.dockerignore'), 'utf8'));
    for (const p of ['.git/HEAD', 'build/capproxy', 'build-asan/capproxy', 'tests/integration/node_modules/yaml/package.json', 'node_modules/x/index.js', 'core', 'src/core.1234'])
      assert.ok(ignored(p), `.dockerignore excludes ${p}`);
    // a core dump is 'core' where the process ran (the top); src/core/ is the core layer's source
    assert.ok(!ignored('src/core/runtime.c'), '.dockerignore keeps src/core/ (source, not a core dump)');
    const sources = df.stages.flatMap((s) => contextCopies(s)).map((c) => c.src.replace(/\/$/, ''));
    for (const src of sources) {
      const abs = path.join(repoRoot, src);
      assert.ok(fs.existsSync(abs), `COPY source ${src} exists`);
      const files = fs.statSync(abs).isDirectory() ? walk(abs).map((f) => `${src}/${f}`) : [src];
      const excluded = files.filter(ignored);
      assert.deepEqual(excluded, [], `files the Dockerfile copies that .dockerignore excludes`);
    }
  });
});

// ============================================================ (b) shared libraries -> packages

/** [{soname, path, dlopen: true}] of the libraries capproxy loads itself on first use
 * (`dlopen("<soname>")` in src/), which ldd does not list; the path from `ldconfig -p`. */
function dlopened() {
  const names = new Set();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith('.c')) for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bdlopen\("([^"]+)"/g)) names.add(m[1]);
    }
  };
  walk(path.join(repoRoot, 'src'));
  const cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' });
  return [...names].map((soname) => {
    const m = new RegExp(`^\\s*${soname.replace(/[.+]/g, '\\$&')} \\(.*x86-64.*\\) => (\\S+)`, 'm').exec(cache)
      || new RegExp(`^\\s*${soname.replace(/[.+]/g, '\\$&')} \\(.*\\) => (\\S+)`, 'm').exec(cache);
    if (!m) throw new Error(`ldconfig -p: ${soname} (loaded with dlopen) not found`);
    return { soname, path: m[1], dlopen: true };
  });
}

/** [{soname, path}] of `ldd BIN` (the vDSO skipped); throws on "not found". */
function ldd(bin) {
  const out = execFileSync('ldd', [bin], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('linux-vdso') || t.startsWith('linux-gate')) continue;
    let m;
    if ((m = /^(\S+)\s+=>\s+not found/.exec(t))) throw new Error(`ldd ${bin}: ${m[1]} not found`);
    if ((m = /^(\S+)\s+=>\s+(\S+)\s+\(/.exec(t))) libs.push({ soname: m[1], path: m[2] });
    else if ((m = /^(\/\S+)\s+\(/.exec(t))) libs.push({ soname: path.basename(m[1]), path: m[1] });
  }
  return libs;
}

/** The Debian packages owning files: Map file -> package (merged-/usr aware; one dpkg -S). */
function dpkgOwners(files) {
  const cands = new Map();
  for (const file of files) {
    const set = new Set([file]);
    try {
      set.add(fs.realpathSync(file));
    } catch {
      /* keep the path */
    }
    for (const c of [...set]) set.add(c.startsWith('/usr/') ? c.slice(4) : '/usr' + c);
    cands.set(file, [...set]);
  }
  // exit status 1 when some candidate is unknown: the others are still printed
  const r = spawnSync('dpkg', ['-S', ...new Set([...cands.values()].flat())], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const owner = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^\s:,]+)(?::[\w-]+)?(?:, [^:]+)?: (\/.+)$/.exec(line);
    if (m && !line.startsWith('diversion')) owner.set(m[2], m[1]);
  }
  const out = new Map();
  for (const [file, cs] of cands) out.set(file, cs.map((c) => owner.get(c)).find(Boolean) || null);
  return out;
}

/** Installed packages: name -> {priority, deps: [[alternatives]]}, and virtual -> providers. */
function installedDb() {
  const out = execFileSync('dpkg-query', ['-W', '-f=${Package}\t${db:Status-Abbrev}\t${Priority}\t${Pre-Depends}\t${Depends}\t${Provides}\n'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const pkgs = new Map();
  const provides = new Map();
  const names = (s) =>
    s
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean)
      .map((g) => g.split('|').map((a) => a.replace(/\(.*?\)/g, '').replace(/:\w+/, '').trim()));
  for (const line of out.split('\n')) {
    const [name, status, priority, pre, dep, prov] = line.split('\t');
    if (!name || !status?.startsWith('ii')) continue;
    const e = pkgs.get(name) || { priority, deps: [] };
    e.deps.push(...names(pre || ''), ...names(dep || ''));
    pkgs.set(name, e);
    for (const [v] of names(prov || '')) {
      if (!provides.has(v)) provides.set(v, []);
      provides.get(v).push(name);
    }
  }
  return { pkgs, provides };
}

/** Dependency closure of roots: pkg -> parent (roots -> null). */
function closure(db, roots) {
  const parent = new Map();
  const queue = [];
  for (const r of roots) if (db.pkgs.has(r) && !parent.has(r)) (parent.set(r, null), queue.push(r));
  while (queue.length) {
    const p = queue.shift();
    for (const alts of db.pkgs.get(p).deps) {
      const pick = alts.find((a) => db.pkgs.has(a)) || alts.flatMap((a) => db.provides.get(a) || []).find((a) => db.pkgs.has(a));
      if (pick && !parent.has(pick)) {
        parent.set(pick, p);
        queue.push(pick);
      }
    }
  }
  return parent;
}
function chain(parent, p) {
  const c = [p];
  while (parent.get(c[0])) c.unshift(parent.get(c[0]));
  return c.join(' > ');
}

describe('runtime libraries', () => {
  test('the build stage has every shared library ldd reports for the binary (it copies them into the runtime stage)', (t) => {
    assert.ok(fs.existsSync(binPath), `${binPath} exists (ninja -C build, or CAPPROXY_BIN)`);
    const listed = aptInstalls(build).map((p) => p.name);
    const db = installedDb();
    const fromListed = closure(db, listed);
    const required = [...db.pkgs].filter(([, e]) => e.priority === 'required').map(([n]) => n);
    assert.ok(required.includes('libc-bin') && required.includes('dpkg'), 'dpkg knows the Priority: required packages');
    const base = closure(db, required);
    const libs = ldd(binPath);
    assert.ok(libs.length >= 5, `ldd found ${libs.length} libraries`);
    libs.push(...dlopened()); /* not linked, loaded on first use: the image needs them as much */
    const problems = [];
    t.diagnostic(`ldd ${path.relative(repoRoot, binPath)} -> Debian package -> why the build stage has it (to copy into the runtime stage)`);
    const owner = dpkgOwners(libs.map((l) => l.path));
    for (const lib of libs) {
      const pkg = owner.get(lib.path);
      let why;
      if (!pkg) why = 'NO PACKAGE (dpkg -S found nothing)';
      else if (listed.includes(pkg)) why = 'installed by the build stage';
      else if (fromListed.has(pkg)) why = `dependency: ${chain(fromListed, pkg)}`;
      else if (base.has(pkg)) why = `in debian:bookworm-slim (Priority required: ${chain(base, pkg)})`;
      else if (/^lib(asan|ubsan|lsan|tsan|hwasan)\d/.test(pkg)) why = 'sanitizer runtime (this is a sanitizer build; not in a release image)';
      else why = 'NOT PROVIDED';
      if (/^NO|^NOT/.test(why)) problems.push(`${lib.soname} (${pkg || lib.path})`);
      t.diagnostic(`  ${lib.soname.padEnd(28)} ${String(pkg).padEnd(26)} ${why}${lib.dlopen ? ' (dlopen)' : ''}`);
    }
    assert.deepEqual(problems, [], 'libraries the build stage would not have to copy');
  });
});

// ===================================================================== (c) Kubernetes manifests

const byKind = (k8s, kind) => k8s.objs.filter((o) => o.kind === kind);

/** Check what every capproxy pod template must have; returns the capproxy container. */
function checkCapproxyPod(k8s, dep) {
  const where = `${k8s.file} Deployment/${dep.metadata.name}`;
  assert.equal(dep.apiVersion, 'apps/v1', where);
  const podSpec = dep.spec.template.spec;
  const podLabels = dep.spec.template.metadata.labels || {};
  for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(podLabels[k], v, `${where}: selector ${k} matches the pod labels`);
  // in containers, or in initContainers as a native sidecar (k8s.test.mjs checks which)
  const c = [...(podSpec.initContainers || []), ...podSpec.containers].find((x) => x.name === 'capproxy');
  assert.ok(c, `${where}: a container named capproxy`);
  assert.equal(c.image, `capproxy:${mesonVersion}`, `${where}: image tag is the project version`);
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  const envValue = (n) => env[n]?.value ?? runtimeEnv[n];

  // probes: GET /healthz and /readyz on the admin listener, which must be reachable from the
  // kubelet (not loopback)
  const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
  const probePort = (p) => (typeof p === 'string' ? ports[p] : p);
  const admin = hostPort(envValue('CAPPROXY_ADMIN_LISTEN'));
  assert.notEqual(admin.host, '127.0.0.1', `${where}: the admin listener is not on loopback (kubelet probes the pod IP)`);
  for (const [probe, p] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']]) {
    const g = c[probe]?.httpGet;
    assert.ok(g, `${where}: ${probe}.httpGet`);
    assert.equal(g.path, p, `${where}: ${probe} path`);
    assert.equal(probePort(g.port), 9901, `${where}: ${probe} port`);
    assert.equal(probePort(g.port), admin.port, `${where}: ${probe} port is CAPPROXY_ADMIN_LISTEN's`);
  }

  // security
  const sc = c.securityContext || {};
  assert.equal(sc.runAsNonRoot, true, `${where}: runAsNonRoot`);
  assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
  assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
  assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}: capabilities drop ALL`);
  assert.ok(!sc.privileged, `${where}: not privileged`);
  assert.ok(!(sc.capabilities?.add || []).length, `${where}: no capability added`);
  if (sc.runAsUser !== undefined) assert.equal(String(sc.runAsUser), runtimeUid, `${where}: runAsUser is the image's USER`);

  // resources, with the sizing note
  const r = c.resources || {};
  for (const k of ['requests', 'limits']) for (const q of ['cpu', 'memory']) assert.ok(r[k]?.[q] !== undefined, `${where}: resources.${k}.${q}`);
  assert.ok(parseCpu(r.requests.cpu) <= parseCpu(r.limits.cpu), `${where}: cpu request <= limit`);
  assert.ok(parseMemory(r.requests.memory) <= parseMemory(r.limits.memory), `${where}: memory request <= limit`);
  assert.match(k8s.text, /#\s*sized from:.*\n(?:\s*#.*\n)*\s*resources:/, `${k8s.file}: a "# sized from:" comment above resources`);

  // shutdown: the grace period covers the preStop pause and the drain deadline
  const drainMs = parseDurationMs(envValue('CAPPROXY_DRAIN_TIMEOUT') ?? '10s');
  const pre = c.lifecycle?.preStop;
  let preStopS = 0;
  if (pre?.exec) {
    const cmd = pre.exec.command;
    assert.equal(path.posix.basename(cmd[0]), 'sleep', `${where}: preStop exec is a sleep`);
    preStopS = Number(cmd[1]);
  } else if (pre?.sleep) preStopS = Number(pre.sleep.seconds);
  const grace = podSpec.terminationGracePeriodSeconds;
  assert.ok(Number.isInteger(grace), `${where}: terminationGracePeriodSeconds set`);
  assert.ok(grace > 10, `${where}: terminationGracePeriodSeconds > 10`);
  assert.ok(grace > preStopS + drainMs / 1000, `${where}: grace ${grace}s > preStop ${preStopS}s + drain ${drainMs / 1000}s`);

  // environment: known variables, $(VAR) defined earlier, no literal secrets
  const seen = new Set();
  const referenced = new Set();
  for (const e of c.env || []) {
    for (const m of (e.value || '').matchAll(/\$\((\w+)\)/g)) {
      assert.ok(seen.has(m[1]), `${where}: ${e.name} uses $(${m[1]}) defined before it`);
      referenced.add(m[1]);
    }
    seen.add(e.name);
  }
  for (const e of c.env || []) {
    assert.ok(knownVariable(e.name) || referenced.has(e.name), `${where}: env ${e.name} is not a variable capproxy reads`);
    if (/SECRET|PASSWORD|TOKEN|_KEY$/.test(e.name) && !e.name.endsWith("_FILE")) assert.ok(e.valueFrom?.secretKeyRef, `${where}: ${e.name} comes from a Secret, not a literal`);
  }
  assert.ok(!env.CAL_COM_CLIENT_SECRET, `${where}: the client secret is mounted as a file (CAL_COM_CLIENT_SECRET would win over it)`);

  // the secret file is where a mounted Secret puts it
  const file = env.CAL_COM_CLIENT_SECRET_FILE?.value;
  assert.ok(file, `${where}: CAL_COM_CLIENT_SECRET_FILE`);
  const mount = (c.volumeMounts || []).find((m) => file.startsWith(m.mountPath.replace(/\/$/, '') + '/'));
  assert.ok(mount, `${where}: ${file} is under a volumeMount`);
  assert.equal(mount.readOnly, true, `${where}: the secret mount is read-only`);
  const vol = (podSpec.volumes || []).find((v) => v.name === mount.name);
  assert.ok(vol?.secret, `${where}: volume ${mount.name} is a Secret`);
  const rel = path.posix.relative(mount.mountPath, file);
  const projected = vol.secret.items ? vol.secret.items.map((i) => i.path) : null;
  if (projected) assert.ok(projected.includes(rel), `${where}: the Secret volume projects ${rel}`);
  if (vol.secret.defaultMode !== undefined && (vol.secret.defaultMode & 0o004) === 0) {
    const fsGroup = podSpec.securityContext?.fsGroup;
    assert.ok(fsGroup !== undefined && (vol.secret.defaultMode & 0o040), `${where}: a mode not world-readable needs group read and an fsGroup`);
    assert.equal(String(fsGroup), runtimeUser.split(':')[1] ?? runtimeUid, `${where}: fsGroup is the image's group`);
  }

  // every Secret referenced (by env or by volume) exists in the file with that key
  const refs = [];
  for (const e of c.env || []) if (e.valueFrom?.secretKeyRef) refs.push([e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key, e.name]);
  for (const v of podSpec.volumes || [])
    if (v.secret) for (const it of v.secret.items || [{ key: null }]) refs.push([v.secret.secretName, it.key, `volume ${v.name}`]);
  // ... and is created out of band: the file and deploy/README.md say how, with that key
  assert.deepEqual(byKind(k8s, 'Secret'), [], `${where}: no Secret object (apply would overwrite the real one)`);
  const readme = fs.readFileSync(path.join(deployRoot, 'deploy', 'README.md'), 'utf8').replace(/\\\n/g, ' ');
  for (const [name, key, by] of refs) {
    for (const [what, text] of [[k8s.file, k8s.text.replace(/\\\n#/g, ' ')], ['deploy/README.md', readme]]) {
      const cmd = new RegExp(`kubectl create secret generic ${name}\\b[^\\n]*`).exec(text);
      assert.ok(cmd, `${what}: "kubectl create secret generic ${name}" (used by ${by})`);
      if (key) assert.match(cmd[0], new RegExp(`--from-(file|literal)=${key}=`), `${what}: the create command sets ${name}/${key} (used by ${by})`);
    }
  }
  return { container: c, env, ports, podSpec, podLabels };
}

/** A value for Secret name/key: the manifests ship no Secret (it is created with kubectl), so a
 * real-looking stand-in, or (real = false) the placeholder a user might leave in one. */
function secretValue(k8s, name, key, real = true) {
  return real ? `test-${name}-${key}-7f3a9c1e5b2d4086` : `REPLACE-ME-${key}`;
}

/** The container's environment as the kubelet would give it, secret files written to dir.
 * Secret values are real-looking stand-ins, except the one named by <shipped> ("name/key"). */
function resolveEnv(k8s, pod, dir, shipped = null) {
  const real = (name, key) => `${name}/${key}` !== shipped;
  const { container: c, podSpec } = pod;
  const mounts = [];
  for (const m of c.volumeMounts || []) {
    const v = podSpec.volumes.find((x) => x.name === m.name);
    if (!v?.secret) continue;
    const local = fs.mkdtempSync(path.join(dir, 'secret-'));
    for (const it of v.secret.items || []) fs.writeFileSync(path.join(local, it.path), secretValue(k8s, v.secret.secretName, it.key, real(v.secret.secretName, it.key)) + '\n');
    mounts.push([m.mountPath.replace(/\/$/, ''), local]);
  }
  const env = {};
  for (const e of c.env || []) {
    let v;
    if (e.value !== undefined) v = e.value.replace(/\$\((\w+)\)/g, (_, n) => env[n] ?? '');
    else if (e.valueFrom.secretKeyRef) v = secretValue(k8s, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key, real(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key));
    else if (e.valueFrom.fieldRef) v = { 'metadata.namespace': 'default', 'metadata.name': 'pod-0' }[e.valueFrom.fieldRef.fieldPath] ?? 'x';
    else if (e.valueFrom.resourceFieldRef) {
      const rf = e.valueFrom.resourceFieldRef;
      const target = [...(podSpec.initContainers || []), ...podSpec.containers].find((x) => x.name === (rf.containerName || c.name));
      const [kind, res] = rf.resource.split('.');
      const q = target.resources[kind][res];
      v = String(res === 'cpu' ? Math.ceil(parseCpu(q) / parseCpu(rf.divisor || '1')) : Math.ceil(parseMemory(q) / parseMemory(rf.divisor || '1')));
    }
    for (const [from, to] of mounts) if (v.startsWith(from + '/')) v = to + v.slice(from.length);
    env[e.name] = v;
  }
  return env;
}

/** The image's CMD with /app paths mapped into the repository. */
function localCmd() {
  return last(runtime, 'CMD').json.map((a) => (a.startsWith('/') ? imageToRepo(runtime, a) || a : a));
}

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'capproxy-deploy-test-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** Run the container's configuration through `capproxy validate` and `routes`. */
async function checkEnvWithBinary(k8s, pod) {
  const env = resolveEnv(k8s, pod, tmpRoot);
  const full = { ...runtimeEnv, CAPPROXY_WORKERS: null, CAPPROXY_LOG_LEVEL: null, ...env };
  const v = await runCapproxy(['validate', ...localCmd()], { env: full, timeoutMs: 15000 * SCALE });
  assert.equal(v.code, 0, `${k8s.file}: capproxy validate with the manifest's environment:\n${v.stderr}`);
  assert.equal(v.sanitizer, null);
  const r = await runCapproxy(['routes', ...localCmd()], { env: full, timeoutMs: 15000 * SCALE });
  assert.equal(r.code, 0, `${k8s.file}: capproxy routes:\n${r.stderr}`);
  assert.ok(!/\(unset\)/.test(r.stdout), `${k8s.file}: every route's credential is configured:\n${r.stdout.split('\n').filter((l) => /unset/.test(l)).slice(0, 5).join('\n')}`);
  assert.ok(r.stdout.includes(env.CAL_COM_CLIENT_SECRET_FILE), `${k8s.file}: x-cal-secret-key comes from the mounted file`);
  for (const [k, val] of Object.entries(env)) if (/SECRET|_KEY$/.test(k) && !k.endsWith('_FILE')) assert.ok(!r.stdout.includes(val) && !v.stderr.includes(val), `${k} is never printed`);
}

/** A Secret created with a placeholder value (REPLACE-ME-...): each one alone (the others
 * real-looking) makes capproxy refuse to start, naming where it comes from (the file, the
 * variable), never printing the value. */
async function checkPlaceholdersRefused(k8s, pod) {
  const { container: c, podSpec } = pod;
  const refs = []; // [secret, key, what the error names]
  for (const e of c.env || []) if (e.valueFrom?.secretKeyRef) refs.push([e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key, `environment variable ${e.name}`]);
  for (const m of c.volumeMounts || []) {
    const v = podSpec.volumes.find((x) => x.name === m.name);
    for (const it of v?.secret?.items || []) refs.push([v.secret.secretName, it.key, 'the secret file']);
  }
  assert.ok(refs.length >= 2, `${k8s.file}: secrets used by capproxy`);
  for (const [name, key, what] of refs) {
    const value = secretValue(k8s, name, key, false);
    const env = resolveEnv(k8s, pod, tmpRoot, `${name}/${key}`);
    const full = { ...runtimeEnv, CAPPROXY_WORKERS: null, CAPPROXY_LOG_LEVEL: null, ...env };
    const v = await runCapproxy(['validate', ...localCmd()], { env: full, timeoutMs: 15000 * SCALE });
    assert.equal(v.code, 1, `${k8s.file}: Secret ${name}/${key} with a placeholder is refused:\n${v.stderr}`);
    assert.equal(v.sanitizer, null);
    // "environment variable NAME" (configuration) or "environment variable 'NAME'" (a bind)
    const named = what === 'the secret file' ? `${env.CAL_COM_CLIENT_SECRET_FILE}: error: the secret file` : what;
    const said = v.stderr.replace(/environment variable '(\w+)'/g, 'environment variable $1');
    assert.ok(said.includes(named) && /holds a placeholder/.test(said), `${k8s.file}: the error names ${named}:\n${v.stderr}`);
    assert.ok(!v.stderr.includes(value), `${k8s.file}: the value of ${name}/${key} is not printed`);
  }
}

describe('deploy/kubernetes/sidecar.yaml', () => {
  const k8s = loadK8s('sidecar.yaml');
  const deps = byKind(k8s, 'Deployment');

  test('one Deployment and its NetworkPolicy; no Secret', () => {
    assert.deepEqual([...new Set(k8s.objs.map((o) => o.kind))].sort(), ['Deployment', 'NetworkPolicy']);
    assert.equal(deps.length, 1);
  });

  test('pod: the application and capproxy (a native sidecar); probes, security, resources, secrets, grace period', () => {
    const pod = checkCapproxyPod(k8s, deps[0]);
    assert.deepEqual(pod.podSpec.initContainers.map((c) => c.name), ['capproxy'], 'capproxy is the only init container');
    assert.equal(pod.container.restartPolicy, 'Always', 'a native sidecar');
    const names = pod.podSpec.containers.map((c) => c.name);
    assert.equal(names.length, 1, `containers: ${names}`);
    const app = pod.podSpec.containers[0];
    assert.equal(app.image, 'ghcr.io/example/app:1.0');
    // sidecar: REST and MCP on loopback only, and the application calls that REST port
    const rest = hostPort(pod.env.CAPPROXY_REST_LISTEN?.value);
    assert.deepEqual(rest, { host: '127.0.0.1', port: 8080 }, 'CAPPROXY_REST_LISTEN=127.0.0.1:8080');
    assert.equal(hostPort(pod.env.CAPPROXY_MCP_LISTEN?.value ?? runtimeEnv.CAPPROXY_MCP_LISTEN).host, '127.0.0.1', 'MCP on loopback in a sidecar');
    const appUrls = (app.env || []).map((e) => e.value || '').filter((v) => /127\.0\.0\.1:\d+/.test(v));
    assert.ok(appUrls.length, 'the application is given capproxy\'s loopback URL');
    for (const u of appUrls) assert.equal(Number(/127\.0\.0\.1:(\d+)/.exec(u)[1]), rest.port, `${u} is capproxy's REST port`);
    assert.ok(!(pod.container.ports || []).some((p) => p.containerPort === 8080 || p.containerPort === 9090), 'no REST/MCP port declared on the pod IP');
  });

  test('the manifest\'s environment is accepted by the real binary, every credential configured', async () => {
    await checkEnvWithBinary(k8s, checkCapproxyPod(k8s, deps[0]));
  });

  test('a Secret created with placeholder values: capproxy refuses to start with them', async () => {
    await checkPlaceholdersRefused(k8s, checkCapproxyPod(k8s, deps[0]));
  });
});

describe('deploy/kubernetes/standalone.yaml', () => {
  const k8s = loadK8s('standalone.yaml');
  const dep = byKind(k8s, 'Deployment')[0];

  test('kinds: Deployment (no replicas: the HPA owns them), Service, HorizontalPodAutoscaler (autoscaling/v2), NetworkPolicy; no Secret', () => {
    const kinds = new Set(k8s.objs.map((o) => o.kind));
    for (const k of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'NetworkPolicy']) assert.ok(kinds.has(k), `kind ${k}`);
    assert.ok(!kinds.has('Secret'), 'no Secret');
    assert.equal(byKind(k8s, 'Deployment').length, 1);
    assert.equal(dep.spec.replicas, undefined);
  });

  test('pod: probes, security, resources, secrets, grace period; listeners on all interfaces', () => {
    const pod = checkCapproxyPod(k8s, dep);
    for (const [v, port] of [['CAPPROXY_REST_LISTEN', 8080], ['CAPPROXY_MCP_LISTEN', 9090]]) {
      const hp = hostPort(pod.env[v]?.value ?? runtimeEnv[v]);
      assert.deepEqual(hp, { host: '0.0.0.0', port }, `${v}`);
    }
  });

  test('MCP: CAPPROXY_SESSION_KEY from a Secret; CAPPROXY_MCP_ALLOWED_HOSTS names the Service', () => {
    const pod = checkCapproxyPod(k8s, dep);
    assert.ok(pod.env.CAPPROXY_SESSION_KEY?.valueFrom?.secretKeyRef, 'CAPPROXY_SESSION_KEY from a Secret (the same on every replica)');
    const svc = byKind(k8s, 'Service')[0];
    const hosts = (pod.env.CAPPROXY_MCP_ALLOWED_HOSTS?.value || '').split(',').map((h) => h.trim());
    assert.ok(hosts.includes(svc.metadata.name), `allowed hosts ${hosts} include ${svc.metadata.name}`);
    assert.ok(hosts.some((h) => h.startsWith(`${svc.metadata.name}.`) && h.endsWith('.svc.cluster.local')), 'and the Service FQDN');
  });

  test('Service: selector matches the pod labels; 8080 rest and 9090 mcp reach the container ports', () => {
    const pod = checkCapproxyPod(k8s, dep);
    const svc = byKind(k8s, 'Service')[0];
    assert.ok(Object.keys(svc.spec.selector).length, 'a selector');
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(pod.podLabels[k], v, `Service selector ${k}=${v} matches the pod`);
    const want = { rest: 8080, mcp: 9090 };
    for (const [name, port] of Object.entries(want)) {
      const p = svc.spec.ports.find((x) => x.port === port);
      assert.ok(p, `Service port ${port}`);
      assert.equal(p.name, name);
      const target = typeof p.targetPort === 'string' ? pod.ports[p.targetPort] : p.targetPort ?? p.port;
      assert.equal(target, port, `Service ${name} targets container port ${port}`);
    }
  });

  test('HorizontalPodAutoscaler: targets the Deployment, CPU 70%, 2 to 10 replicas', () => {
    const hpa = byKind(k8s, 'HorizontalPodAutoscaler')[0];
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
    assert.equal(hpa.spec.minReplicas, 2);
    assert.equal(hpa.spec.maxReplicas, 10);
    assert.equal(dep.spec.replicas, undefined, 'no Deployment replicas: apply would reset the HPA\'s count');
    const cpu = hpa.spec.metrics.find((m) => m.type === 'Resource' && m.resource.name === 'cpu');
    assert.deepEqual(cpu?.resource.target, { type: 'Utilization', averageUtilization: 70 });
    assert.ok(dep.spec.template.spec.containers.every((c) => c.resources?.requests?.cpu), 'utilization needs CPU requests on every container');
  });

  test('PodDisruptionBudget (if any) selects the pods', () => {
    const pod = checkCapproxyPod(k8s, dep);
    for (const pdb of byKind(k8s, 'PodDisruptionBudget'))
      for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(pod.podLabels[k], v, `PDB ${pdb.metadata.name} selector ${k}`);
  });

  test('the manifest\'s environment is accepted by the real binary, every credential configured', async () => {
    await checkEnvWithBinary(k8s, checkCapproxyPod(k8s, dep));
  });

  test('Secrets created with placeholder values: capproxy refuses to start with them (session key too)', async () => {
    await checkPlaceholdersRefused(k8s, checkCapproxyPod(k8s, dep));
  });
});

// ============================================= the image's ENV + CMD run by the real binary

function httpGet(port, p, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The HEALTHCHECK command as it would run in the image, against an admin listener on
 * 127.0.0.1:<adminPort>: the image's binary and files mapped into the repository, or the URL's
 * port replaced for another tool. */
function localHealthcheck(adminPort) {
  const hc = last(runtime, 'HEALTHCHECK');
  const argv = hc.json || shellWords(hc.args.replace(/^CMD\s+/i, ''));
  const env = { ...process.env, ...runtimeEnv, CAPPROXY_ADMIN_LISTEN: `127.0.0.1:${adminPort}` };
  if (argv[0] === last(runtime, 'ENTRYPOINT').json[0])
    return { argv: [binPath, ...argv.slice(1).map((a) => (a.startsWith('/') ? imageToRepo(runtime, a) || a : a))], env };
  return { argv: argv.map((a) => a.replace(/^(https?:\/\/(?:127\.0\.0\.1|localhost)):\d+/, `$1:${adminPort}`)), env };
}

describe('the image configuration with the real binary', () => {
  test('capproxy validate with the image ENV and CMD', async () => {
    const r = await runCapproxy(['validate', ...localCmd()], { env: { ...runtimeEnv, CAPPROXY_WORKERS: null, CAPPROXY_LOG_LEVEL: null } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /documents? valid/);
  });

  test('served with the image ENV: the HEALTHCHECK command and the probe paths pass, and fail once it stops', { timeout: 60000 * SCALE }, async () => {
    // the image's ENV, but every listener on loopback with a free port
    const env = { ...runtimeEnv, CAPPROXY_REST_LISTEN: '127.0.0.1:0', CAPPROXY_MCP_LISTEN: '127.0.0.1:0', CAPPROXY_ADMIN_LISTEN: '127.0.0.1:0', CAPPROXY_LOG_LEVEL: null };
    const px = await startProxy({ env, args: localCmd(), timeoutMs: 15000 * SCALE });
    let adminPort;
    try {
      const line = px.lines.find((l) => /admin listening on/.test(l));
      assert.ok(line, `an "admin listening on HOST:PORT" line:\n${px.lines.join('\n')}`);
      adminPort = Number(/admin listening on \S+?:(\d+)/.exec(line)[1]);
      assert.ok(px.lines.some((l) => l.startsWith('{')), 'CAPPROXY_LOG_FORMAT=json: JSON log lines');
      const { argv, env: hcEnv } = localHealthcheck(adminPort);
      const ok = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: hcEnv, timeout: 10000 * SCALE });
      assert.equal(ok.status, 0, `HEALTHCHECK ${argv.join(' ')}: ${ok.stderr}`);
      const paths = new Set();
      for (const f of ['sidecar.yaml', 'standalone.yaml'])
        for (const d of byKind(loadK8s(f), 'Deployment'))
          for (const c of d.spec.template.spec.containers.filter((x) => x.name === 'capproxy'))
            for (const p of ['livenessProbe', 'readinessProbe', 'startupProbe']) if (c[p]?.httpGet) paths.add(c[p].httpGet.path);
      assert.ok(paths.size >= 2);
      for (const p of paths) {
        const r = await httpGet(adminPort, p);
        assert.equal(r.status, 200, `GET ${p} on the admin listener: ${r.status} ${r.body}`);
      }
    } finally {
      const r = await px.stop();
      assert.equal(r.sanitizer, null, r.sanitizer || '');
      assert.equal(r.code, 0, `exit after SIGTERM: ${JSON.stringify({ code: r.code, signal: r.signal })}`);
    }
    const { argv, env: hcEnv } = localHealthcheck(adminPort);
    const down = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: hcEnv, timeout: 10000 * SCALE });
    assert.notEqual(down.status, 0, 'the HEALTHCHECK command fails when capproxy is not serving');
  });
});

// =============================================================================== (d) lint

describe('lint', () => {
  test('dockerfile-utils finds no problem in the Dockerfile (deploy/lint-dockerfile.mjs)', (t) => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'deploy', 'lint-dockerfile.mjs'), dockerfilePath], { encoding: 'utf8' });
    if (r.status === 2) {
      t.skip('dockerfile-utils is not installed in tests/integration/node_modules (add it to devDependencies); the structural checks above still ran');
      return;
    }
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
