import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TimeoutError } from '../errors.js';

export type NtcpEvent = Record<string, unknown> & { event?: string; msg?: string };

/**
 * An `ntcp ... --json` child process (the demo and the lab tests run them in lab hosts): its
 * stderr JSON lines as events to wait for, its stdout collected, its exit awaited.
 */
export class NtcpProcess {
  readonly events: NtcpEvent[] = [];
  readonly stderr: string[] = [];
  stdout = '';
  readonly exited: Promise<number | null>;
  readonly #wakers = new Set<() => void>();

  constructor(readonly child: ChildProcess, readonly label: string) {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      try {
        const parsed = JSON.parse(line) as unknown;
        if (typeof parsed === 'object' && parsed !== null) this.events.push(parsed as NtcpEvent);
      } catch {
        // A line that is not JSON (a crash trace) stays in `stderr` for the failure report.
      }
      this.#wake();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.#wake();
    });
    // 'close' comes after the output pipes drained ('exit' may come before): stdout is complete.
    this.exited = new Promise((resolve) => child.once('close', (code) => {
      this.#wake();
      resolve(code);
    }));
  }

  /** The first event matching `predicate` (already seen or still to come). */
  async waitFor(predicate: (event: NtcpEvent) => boolean, what: string, timeoutMs: number): Promise<NtcpEvent> {
    return this.#until(() => this.events.find(predicate), what, timeoutMs);
  }

  /** The first event named one of `names`. */
  waitForEvent(names: string[], timeoutMs: number): Promise<NtcpEvent> {
    return this.waitFor((event) => names.includes(String(event.event)), `event ${names.join('/')}`, timeoutMs);
  }

  /** Resolves once stdout contains `text`. */
  async waitForOutput(text: string, timeoutMs: number): Promise<void> {
    await this.#until(() => (this.stdout.includes(text) ? true : undefined), `output ${JSON.stringify(text)}`, timeoutMs);
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  async #until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const exited = this.child.exitCode !== null || this.child.signalCode !== null;
      const left = deadline - performance.now();
      if (exited || left <= 0) {
        const why = exited ? `exited (${this.child.exitCode ?? this.child.signalCode})` : `nothing within ${timeoutMs} ms`;
        throw new TimeoutError(`${this.label}: waiting for ${what}: ${why}; stderr:\n${this.stderr.slice(-20).join('\n')}`, timeoutMs);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 1000));
        const wakers = this.#wakers;
        function done(): void {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        }
        wakers.add(done);
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
