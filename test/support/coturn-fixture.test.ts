import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { coturnSkipReason } from './coturn.js';

const skip = coturnSkipReason('coturn fixture test');

/** Running, not a zombie (a killed orphan may wait for a reaper that a container lacks). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// A test file that a runner kills (SIGKILL: no 'exit' handler, no finally) must not leave its
// coturn running: the fixture starts it with a parent-death signal.
test('a coturn started by a test process dies with that process, also when it is killed', { skip }, async () => {
  const script = "import { startStunCoturn } from './test/support/coturn.ts'; const c = await startStunCoturn(); console.log(c.pid); setInterval(() => {}, 1000);";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let coturnPid: number | undefined;
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    coturnPid = Number(String(line).trim());
    assert.ok(Number.isInteger(coturnPid) && alive(coturnPid), `coturn runs (pid ${coturnPid})`);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const deadline = Date.now() + 5000;
    while (alive(coturnPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(alive(coturnPid), false, 'coturn outlived the killed test process');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (coturnPid !== undefined && alive(coturnPid)) process.kill(coturnPid, 'SIGKILL');
  }
});
