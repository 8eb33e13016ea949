import type { Socket } from 'node:net';
import { TokenBucket } from '../util/token-bucket.js';
import type { Clock } from '../util/clock.js';

export interface SpliceHooks {
  /** Bytes relayed from peer `from`: per chunk (JS engine) or summed at a bounded rate (kernel). */
  onBytes(bytes: number, from: 0 | 1): void;
  /**
   * The splice ended by itself: `closed` after a FIN both ways, `vanished` when a side failed or
   * closed without a FIN (the other side was reset). Not called after `abort()`.
   */
  onClosed(outcome: 'closed' | 'vanished', error?: Error): void;
}

/** The per-peer token bucket, applied to each direction on its own. */
export interface SpliceRate {
  bytesPerSecond: number;
  burstBytes: number;
}

export interface SpliceHandle {
  /** Closes both peers now (a plain close, as for an idle or relay-ended session); no onClosed. */
  abort(): void;
}

/**
 * One way of splicing a paired session. `heads[i]` is written to socket i before anything relayed
 * to it (the attach reply, bytes the other peer sent early). Both sockets come paused and with
 * nothing left to write; the engine owns them from then on.
 */
export interface SpliceEngine {
  readonly name: 'kernel' | 'js';
  splice(sockets: [Socket, Socket], heads: [Buffer, Buffer], rate: SpliceRate, hooks: SpliceHooks): SpliceHandle;
}

/** The JavaScript engine: portable, two user-space copies per byte. */
export function jsSpliceEngine(clock: Clock): SpliceEngine {
  return {
    name: 'js',
    splice(sockets, heads, rate, hooks) {
      const bucket = (): TokenBucket => new TokenBucket(rate.bytesPerSecond, rate.burstBytes, clock);
      sockets[0].write(heads[0]);
      sockets[1].write(heads[1]);
      return splice(sockets, [bucket(), bucket()], hooks);
    },
  };
}

/**
 * Connects two sockets both ways without buffering beyond the sockets' own high-water marks:
 * a reader pauses while its writer is full (until 'drain') or while its token bucket is in debt.
 * A FIN from one side becomes a FIN to the other (half-close); a reset or a failure on one side
 * resets the other, so a truncated stream never looks like a clean end.
 */
export function splice(sockets: [Socket, Socket], buckets: [TokenBucket | undefined, TokenBucket | undefined], hooks: SpliceHooks): SpliceHandle {
  const ended: [boolean, boolean] = [false, false];
  let closed = 0;
  let failure: Error | undefined;
  let vanished = false;
  let aborted = false;

  const pump = (from: 0 | 1): void => {
    const source = sockets[from];
    const target = sockets[from === 0 ? 1 : 0];
    const bucket = buckets[from];
    let waitingForDrain = false;
    let waitingForRate = false;
    const resume = (): void => {
      if (!waitingForDrain && !waitingForRate && !source.destroyed) source.resume();
    };
    source.on('data', (chunk: Buffer) => {
      hooks.onBytes(chunk.length, from);
      if (!target.write(chunk)) {
        waitingForDrain = true;
        source.pause();
        target.once('drain', () => {
          waitingForDrain = false;
          resume();
        });
      }
      const delayMs = bucket ? bucket.consume(chunk.length) : 0;
      if (delayMs > 0) {
        waitingForRate = true;
        source.pause();
        setTimeout(() => {
          waitingForRate = false;
          resume();
        }, delayMs).unref();
      }
    });
    source.on('end', () => {
      ended[from] = true;
      target.end();
    });
    source.on('error', (error) => {
      failure ??= error;
    });
    source.on('close', (hadError) => {
      if ((hadError || !ended[from]) && !target.destroyed) {
        vanished = true;
        target.resetAndDestroy();
      }
      if (++closed === 2 && !aborted) hooks.onClosed(vanished || failure ? 'vanished' : 'closed', failure);
    });
  };

  pump(0);
  pump(1);
  sockets[0].resume();
  sockets[1].resume();
  return {
    abort() {
      aborted = true;
      sockets[0].destroy();
      sockets[1].destroy();
    },
  };
}
