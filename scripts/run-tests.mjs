// Runs the test suite with Node's own runner on the TypeScript sources (through tsx).
// `npm test` runs everything; `npm test -- test/codec` runs the files under the given paths.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => collect(join(path, entry)));
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('run-tests: no test files found under', roots.join(' ') || 'test');
  process.exit(1);
}
if (process.getuid?.() !== 0) {
  console.error('run-tests: NOT ROOT: the NAT lab tests will be SKIPPED (they need root, nftables and iproute2).');
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
