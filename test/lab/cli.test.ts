import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { findLabState, labUnavailableReason } from '../../src/lab/index.js';

// `ntcp lab` and its state file: a broken file is an error, never "no lab is up".
const dir = mkdtempSync(join(tmpdir(), 'ntcp-lab-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function lab(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lab', ...args], (error, stdout, stderr) => {
      resolve({ status: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
    });
  });
}

test('the state file: missing means no lab, a broken one is a typed error, a good one is read', async () => {
  assert.equal(await findLabState(join(dir, 'missing.json')), null);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"plan": ');
  await assert.rejects(findLabState(broken), (error: unknown) => error instanceof InvalidArgumentError && /is not JSON/.test(error.message));
  await assert.rejects(findLabState(dir), InvalidArgumentError, 'a directory cannot be read as a file');
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ plan: { prefix: 'ntlx' }, pids: [] }));
  assert.deepEqual(await findLabState(good), { plan: { prefix: 'ntlx' }, pids: [] });
});

test('lab down refuses a broken state file; with --prefix it sweeps anyway and removes the file', async (t) => {
  const unavailable = labUnavailableReason();
  if (unavailable) return t.skip(`needs root: ${unavailable}`);
  const [kept, swept] = [join(dir, 'kept.json'), join(dir, 'swept.json')];
  writeFileSync(kept, 'not json');
  writeFileSync(swept, 'not json');
  const [refused, sweep] = await Promise.all([lab('down', '--state', kept), lab('down', '--state', swept, '--prefix', 'ntcpclitestnone')]);
  assert.notEqual(refused.status, 0, refused.stdout);
  assert.match(refused.stderr, /is not JSON/);
  assert.ok(existsSync(kept), 'the broken file is left for the user to see');
  assert.equal(sweep.status, 0, sweep.stderr);
  assert.match(sweep.stdout, /removed 0 leftover namespace/);
  assert.ok(!existsSync(swept));
});
