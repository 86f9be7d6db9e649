#!/usr/bin/env node
// Lint a Dockerfile with dockerfile-utils (npm; the validator of the Docker language server):
// syntax, unknown instructions and flags, bad EXPOSE/STOPSIGNAL/HEALTHCHECK arguments,
// duplicate CMD/ENTRYPOINT/HEALTHCHECK, JSON in single quotes, relative WORKDIR, ...
// Every problem it can report is made an error here.
//
//   node deploy/lint-dockerfile.mjs [Dockerfile]
//
// Prints one `FILE:LINE:COL: error: MESSAGE` line per problem. Exit 0: clean; 1: problems;
// 2: dockerfile-utils is not installed (it is looked up from tests/integration/node_modules,
// then NODE_PATH).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.resolve(process.argv[2] || path.join(repoRoot, 'Dockerfile'));

let utils;
for (const base of [path.join(repoRoot, 'tests', 'integration', 'package.json'), import.meta.url]) {
  try {
    utils = createRequire(base)('dockerfile-utils');
    break;
  } catch {
    /* try the next place */
  }
}
if (!utils) {
  console.error('lint-dockerfile: dockerfile-utils is not installed (tests/integration: npm install --save-dev dockerfile-utils)');
  process.exit(2);
}

const content = fs.readFileSync(file, 'utf8');
const ERROR = utils.ValidationSeverity.ERROR;
const settings = {
  deprecatedMaintainer: ERROR,
  directiveCasing: ERROR,
  emptyContinuationLine: ERROR,
  instructionCasing: ERROR,
  instructionCmdMultiple: ERROR,
  instructionEntrypointMultiple: ERROR,
  instructionHealthcheckMultiple: ERROR,
  instructionJSONInSingleQuotes: ERROR,
  instructionWorkdirRelative: ERROR,
};
const diagnostics = utils.validate(content, settings);
const rel = path.relative(process.cwd(), file) || file;
for (const d of diagnostics) {
  const sev = d.severity === 1 ? 'error' : 'warning';
  console.log(`${rel}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${sev}: ${d.message}`);
}
console.log(`lint-dockerfile: ${rel}: ${diagnostics.length} problem(s) (dockerfile-utils)`);
process.exit(diagnostics.length ? 1 : 0);
