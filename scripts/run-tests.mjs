// Runs the test suite with Node's own runner on the TypeScript sources (through tsx), one runner
// process per file in a small pool, so a file's wall time is known and shown (slowest first).
// `npm test` runs everything; `npm test -- test/codec` runs the files under the given paths.
// NTCP_TEST_CONCURRENCY sets the pool size (default 2: most lab and socket tests wait on the
// network, not the CPU). The NAT-pair matrices load both cores by themselves, so they run last,
// one at a time, instead of starving a timing-sensitive neighbour.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const DEFAULT_CONCURRENCY = 2;
const FILE_TIMEOUT_MS = 300_000;
const SLOWEST_SHOWN = 12;
const RUN_ALONE = /matrix/;

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((entry) => collect(join(path, entry)));
}

function count(output, label) {
  const match = new RegExp(`^ℹ ${label} (\\d+)$`, 'm').exec(output);
  return match ? Number(match[1]) : 0;
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-timeout=${FILE_TIMEOUT_MS}`, '--test-reporter=spec', file],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const chunks = [];
    child.stdout.on('data', (chunk) => chunks.push(chunk));
    child.stderr.on('data', (chunk) => chunks.push(chunk));
    child.on('close', (code, signal) => {
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({
        file, output, code, signal, ms: Date.now() - started,
        passed: count(output, 'pass'), failed: count(output, 'fail') + count(output, 'cancelled'),
        skipped: count(output, 'skipped') + count(output, 'todo'),
      });
    });
  });
}

async function runAll(files, concurrency) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < files.length) {
      const result = await runFile(files[next++]);
      process.stdout.write(`\n▶ ${result.file} (${(result.ms / 1000).toFixed(1)} s)\n${result.output}`);
      results.push(result);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return results;
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
const concurrency = Number(process.env.NTCP_TEST_CONCURRENCY) || DEFAULT_CONCURRENCY;
const started = Date.now();
const results = [
  ...(await runAll(files.filter((file) => !RUN_ALONE.test(file)), concurrency)),
  ...(await runAll(files.filter((file) => RUN_ALONE.test(file)), 1)),
];

console.log('\nslowest test files (wall time):');
for (const result of [...results].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN)) {
  console.log(`  ${(result.ms / 1000).toFixed(1).padStart(7)} s  ${result.file}`);
}
const broken = results.filter((result) => result.code !== 0);
for (const result of broken) {
  console.log(`✖ ${result.file}: exit ${result.code ?? result.signal}${result.failed === 0 ? ' (no failing test reported: crashed or timed out)' : ''}`);
}
const total = (key) => results.reduce((sum, result) => sum + result[key], 0);
const failed = Math.max(total('failed'), broken.length);
console.log(`\n${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s, ${concurrency} at a time`);
console.log(`tests: ${total('passed')} passed, ${failed} failed, ${total('skipped')} skipped`);
process.exit(broken.length > 0 || failed > 0 ? 1 : 0);
