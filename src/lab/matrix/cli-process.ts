import type { ChildProcess } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { TimeoutError } from '../../errors.js';

export type CliEvent = Record<string, unknown> & { event?: string };

/** stderr lines kept for a failure report. */
const KEPT_STDERR_LINES = 40;

/**
 * An `ntcp listen|connect --json` process in a lab host, seen by the matrix: its JSON events, a
 * binary-safe digest of everything it wrote to stdout (1 MiB of random bytes is not text), and
 * its exit.
 */
export class CliProcess {
  readonly events: CliEvent[] = [];
  readonly stderrTail: string[] = [];
  readonly exited: Promise<number | null>;
  stdoutBytes = 0;
  readonly #digest: Hash = createHash('sha256');
  readonly #chunks: Buffer[] = [];
  readonly #keepStdout: boolean;
  readonly #wakers = new Set<() => void>();

  /** `keepStdout`: also hold stdout's bytes (small UDP exchanges are checked line by line). */
  constructor(readonly child: ChildProcess, readonly label: string, keepStdout = false) {
    this.#keepStdout = keepStdout;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > KEPT_STDERR_LINES) this.stderrTail.shift();
      if (line.startsWith('{')) {
        try {
          this.events.push(JSON.parse(line) as CliEvent);
        } catch (error) {
          this.stderrTail.push(`(unparsable JSON line: ${(error as Error).message})`);
        }
      }
      this.#wake();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stdoutBytes += chunk.length;
      this.#digest.update(chunk);
      if (this.#keepStdout) this.#chunks.push(chunk);
      this.#wake();
    });
    // The child may exit before reading all we wrote (a failed connect): that is not our error.
    child.stdin!.on('error', (error) => this.stderrTail.push(`(stdin: ${error.message})`));
    // 'close', not 'exit': 'exit' may come while the pipes still hold output (up to a pipe's
    // worth of a 1 MiB transfer), which read as a truncated, mismatching stream.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => {
      this.#wake();
      resolve(code ?? (signal ? -1 : null));
    }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first event named one of `names` (already seen or still to come). */
  waitForEvent(names: readonly string[], timeoutMs: number): Promise<CliEvent> {
    return this.until(() => this.events.find((event) => names.includes(String(event.event))), `event ${names.join('/')}`, timeoutMs);
  }

  /** Resolves with `check()`'s first defined value; rejects on exit or after `timeoutMs`. */
  async until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (!this.running || left <= 0) {
        const why = this.running ? `nothing within ${timeoutMs} ms` : `exited (${this.child.exitCode ?? this.child.signalCode})`;
        throw new TimeoutError(`${this.label}: waiting for ${what}: ${why}`, timeoutMs);
      }
      await new Promise<void>((resolve) => {
        const wakers = this.#wakers;
        const timer = setTimeout(done, Math.min(left, 1000));
        function done(): void {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        }
        wakers.add(done);
      });
    }
  }

  /** Resolves with the exit code, or kills the process after `timeoutMs` and resolves with null. */
  async exit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    const code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (code === null) this.kill();
    return code;
  }

  sha256(): string {
    return this.#digest.copy().digest('hex');
  }

  stdout(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
