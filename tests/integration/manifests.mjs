// Reading Kubernetes manifests for the tests that check them (k8s.test.mjs, deploy.test.mjs):
// every YAML document of a file, with no parse error or warning.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** The documents of <dir>/<file> as {file, text, objs} (empty documents left out). */
export function loadManifests(dir, file) {
  const text = fs.readFileSync(path.join(dir, file), 'utf8');
  const docs = YAML.parseAllDocuments(text);
  for (const d of docs) {
    assert.deepEqual(d.errors.map(String), [], `${file}: YAML errors`);
    assert.deepEqual(d.warnings.map(String), [], `${file}: YAML warnings`);
  }
  return { file, text, objs: docs.map((d) => d.toJS()).filter((o) => o !== null && o !== undefined) };
}
