import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { AbortedError } from '../errors.js';
import { LabCommandError, LabNotRootError, LabToolMissingError } from './errors.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Output kept per stream; a runaway child cannot exhaust memory. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs a program to completion, feeding `input` on stdin; never throws for a non-zero exit. */
export function run(
  argv: readonly string[],
  options: { input?: string; timeoutMs?: number; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new LabCommandError('(empty)', null, 'empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes <= MAX_OUTPUT_BYTES) out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      errBytes += chunk.length;
      if (errBytes <= MAX_OUTPUT_BYTES) err.push(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(missingTool(file, error));
      else reject(new LabCommandError(argv.join(' '), null, error.message, { cause: error }));
    });
    child.on('close', (code) => {
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined); // EPIPE when the child exits early; its exit code tells
    child.stdin.end(options.input ?? '');
  });
}

/** SIGTERM, then SIGKILL after `graceMs` if the process is still there; resolves once it is gone (or killed). */
export function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Runs a bash script and rejects with LabCommandError when it fails. */
export async function runScript(what: string, script: string, timeoutMs = 60_000, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new AbortedError(`${what}: aborted`, { cause: signal.reason });
  const result = await run(['bash', '-s'], { input: script, timeoutMs, ...(signal ? { signal } : {}) }).catch((error: unknown) => {
    if (signal?.aborted) throw new AbortedError(`${what}: aborted`, { cause: signal.reason });
    throw error;
  });
  if (signal?.aborted) throw new AbortedError(`${what}: aborted`, { cause: signal.reason });
  if (result.code !== 0) throw new LabCommandError(what, result.code, result.stderr || result.stdout);
}

const INSTALL = {
  ip: 'apt-get install iproute2',
  nft: 'apt-get install nftables',
  bash: 'apt-get install bash',
} as const;

function missingTool(file: string, cause?: unknown): LabToolMissingError {
  const hint = INSTALL[file as keyof typeof INSTALL] ?? 'install it';
  return new LabToolMissingError(file, `${hint} (the lab needs: apt-get install nftables iproute2)`, { cause });
}

let checked = false;

/** Throws a typed error when not root or when ip / nft / bash are missing. Cached once it passes. */
export function checkPrerequisites(): void {
  if (checked) return;
  if (process.getuid?.() !== 0) throw new LabNotRootError();
  for (const tool of ['ip', 'nft', 'bash'] as const) {
    const probe = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    if (probe.status !== 0) throw missingTool(tool);
  }
  checked = true;
}

/** Why the lab cannot run here, or null when it can: for tests that skip loudly. */
export function labUnavailableReason(): string | null {
  try {
    checkPrerequisites();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
