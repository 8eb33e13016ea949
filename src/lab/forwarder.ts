import { spawn } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observe/logger.js';
import { LabNativeError } from './errors.js';
import { run, stopProcess } from './shell.js';
import type { PlannedLink } from './topology.js';

/**
 * The userspace link that adds delay, jitter and loss (this kernel has no netem): one C process
 * per lab (src/lab/native/delay-link.c, compiled with `cc` into build/lab/ on first use) owns a
 * TAP device at each end of every shaped link and holds frames for the configured time.
 */

export interface Forwarder {
  readonly pid: number;
  stop(): Promise<void>;
}

export interface ForwarderOptions {
  timeoutMs: number;
  logger: Logger;
  /** Keep running after this process exits (`ntcp lab up`); otherwise it dies with its parent. @default false */
  detached?: boolean;
}

const SOURCE = fileURLToPath(new URL('../../src/lab/native/delay-link.c', import.meta.url));
const BINARY = fileURLToPath(new URL('../../build/lab/delay-link', import.meta.url));
const STOP_GRACE_MS = 1000;

let compiled: Promise<string> | undefined;

/** Compiles the forwarder unless build/ holds one newer than its source. */
export function forwarderBinary(): Promise<string> {
  compiled ??= compile().catch((error: unknown) => {
    compiled = undefined;
    throw error;
  });
  return compiled;
}

async function compile(): Promise<string> {
  const [source, binary] = await Promise.all([
    stat(SOURCE).catch((cause: unknown) => {
      throw new LabNativeError(`the delayed-link source is missing (${SOURCE})`, { cause });
    }),
    stat(BINARY).catch(() => null),
  ]);
  if (binary && binary.mtimeMs >= source.mtimeMs) return BINARY;
  await mkdir(dirname(BINARY), { recursive: true });
  const temporary = `${BINARY}.${process.pid}.tmp`;
  const result = await run(['cc', '-O2', '-Wall', '-o', temporary, SOURCE]).catch((cause: unknown) => {
    throw new LabNativeError('shaped links (delay, jitter, loss) need a C compiler: apt-get install gcc libc6-dev', { cause });
  });
  if (result.code !== 0) throw new LabNativeError(`compiling ${SOURCE} failed: ${result.stderr.trim()}`);
  await rename(temporary, BINARY);
  return BINARY;
}

/** The forwarder's argument for one link: the up end is side A, the device end side B. */
export function linkArgument(link: PlannedLink): string {
  const oneWayUs = Math.round((link.shape.delayMs * 1000) / 2);
  const jitterUs = Math.round(link.shape.jitterMs * 1000);
  const lossPpm = Math.round(link.shape.lossPercent * 10_000);
  return [`/run/netns/${link.up.namespace}`, link.up.ifname, `/run/netns/${link.down.namespace}`, link.down.ifname, oneWayUs, jitterUs, lossPpm].join(',');
}

export async function startForwarder(links: readonly PlannedLink[], options: ForwarderOptions): Promise<Forwarder> {
  const binary = await forwarderBinary();
  const args = [...(options.detached ? [] : ['--parent-death']), ...links.map(linkArgument)];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new LabNativeError(`the delayed-link forwarder did not start within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('error', (cause) => {
      clearTimeout(timer);
      reject(new LabNativeError(`the delayed-link forwarder failed to start: ${cause.message}`, { cause }));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LabNativeError(`the delayed-link forwarder exited (${code}): ${stderr.trim()}`));
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') options.logger.warn({ code, signal, stderr: stderr.trim() }, 'delayed-link forwarder stopped');
  });
  if (options.detached) {
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
  }
  return { pid: child.pid!, stop: () => stopProcess(child, STOP_GRACE_MS) };
}
