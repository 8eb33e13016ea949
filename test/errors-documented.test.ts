import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('every error code used in src/ is documented in docs/errors.md', () => {
  const documented = readFileSync('docs/errors.md', 'utf8');
  const used = new Set<string>();
  for (const file of sourceFiles('src')) {
    for (const match of readFileSync(file, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) used.add(match[1]!);
  }
  assert.ok(used.size > 0, 'expected some error codes in src/');
  const missing = [...used].filter((code) => !documented.includes(`\`${code}\``));
  assert.deepEqual(missing, [], `undocumented error codes: ${missing.join(', ')}`);
});
