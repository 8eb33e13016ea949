import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { labUnavailableReason } from '../../src/lab/index.js';

// `ntcp lab` reading its state file: a broken file is an error, never "no lab is up".
const dir = mkdtempSync(join(tmpdir(), 'ntcp-lab-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function lab(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lab', ...args], (error, stdout, stderr) => {
      resolve({ status: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
    });
  });
}

test('lab down with no state file says no lab is up', async () => {
  const result = await lab('down', '--state', join(dir, 'missing.json'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /no lab is up/);
});

test('a state file that is not JSON is an error for down, exec and up, not an empty lab', async () => {
  const path = join(dir, 'broken.json');
  writeFileSync(path, '{"plan": ');
  const commands = [['down'], ['exec', 'a1', 'true'], ['up']];
  const results = await Promise.all(commands.map((args) => lab(...args, '--state', path)));
  results.forEach((result, i) => {
    assert.notEqual(result.status, 0, `${commands[i]![0]}: ${result.stdout}`);
    assert.match(result.stderr, /is not JSON/, commands[i]![0]);
  });
  assert.ok(existsSync(path), 'the broken file is left for the user to see');
});

test('down --prefix sweeps even when the state file is broken, and removes the file', async (t) => {
  const unavailable = labUnavailableReason();
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const path = join(dir, 'broken-sweep.json');
  writeFileSync(path, 'not json');
  const result = await lab('down', '--state', path, '--prefix', 'ntcpclitestnone');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /removed 0 leftover namespace/);
  assert.ok(!existsSync(path));
});
