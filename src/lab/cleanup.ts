import { spawnSync } from 'node:child_process';
import { teardownBatch } from './build-script.js';

/**
 * Last-resort cleanup: labs still alive when the process exits or gets SIGINT/SIGTERM are torn
 * down synchronously (an exit handler cannot wait for promises). `lab.destroy()` is the normal path.
 */

export interface Teardown {
  /** Namespaces to delete. */
  namespaces: readonly string[];
  /** Processes the lab started (helpers, forwarders) to kill first. */
  pids(): number[];
}

const live = new Set<Teardown>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/** Kills the processes and deletes the namespaces, synchronously, ignoring what is already gone. */
export function teardownSync(teardown: Teardown): void {
  for (const pid of teardown.pids()) killQuietly(pid);
  spawnSync('ip', ['-force', '-batch', '-'], { input: teardownBatch(teardown.namespaces), stdio: ['pipe', 'ignore', 'ignore'] });
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function onExit(): void {
  for (const teardown of live) teardownSync(teardown);
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  onExit();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  installed = false;
  // Nobody else handles it: behave as if we had not been listening (default action: terminate).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

export function registerTeardown(teardown: Teardown): void {
  live.add(teardown);
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

export function unregisterTeardown(teardown: Teardown): void {
  live.delete(teardown);
}
