import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { labUnavailableReason } from '../../src/lab/index.js';

const run = promisify(execFile);
const unavailable = labUnavailableReason();

test('`ntcp demo` builds a lab, connects two NATed peers over UDP and TCP with the real CLI, tears down, exits 0', async (t) => {
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const { stdout } = await run(process.execPath, ['dist/cli/main.js', 'demo', '--a', 'restricted-cone', '--b', 'symmetric-seq:2'], { timeout: 60_000 });
  assert.match(stdout, /site a: restricted-cone/);
  assert.match(stdout, /site b: symmetric-seq:2/);
  const connections = [...stdout.matchAll(/connected by ([a-z0-9-]+) in (\d+) ms/g)];
  assert.equal(connections.length, 2, stdout);
  assert.match(stdout, /b1 received: hello bob, this is alice over udp/);
  assert.match(stdout, /a1 received: hi alice, bob here over tcp/);
  assert.match(stdout, /lab torn down/);
});

test('`ntcp demo` refuses an unknown NAT preset with a clear message', async () => {
  const error = await run(process.execPath, ['dist/cli/main.js', 'demo', '--a', 'mystery']).then(() => undefined, (failure: { code: number; stderr: string }) => failure);
  assert.ok(error);
  assert.notEqual(error.code, 0);
  assert.match(error.stderr, /not a NAT preset: mystery/);
});
