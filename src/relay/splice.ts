import type { Socket } from 'node:net';
import type { TokenBucket } from '../util/token-bucket.js';

export interface SpliceHooks {
  /** Called for every chunk relayed (either direction), before it is written. */
  onBytes(bytes: number, from: 0 | 1): void;
  /** Both sockets closed; `vanished` when one of them failed or closed without a FIN first. */
  onClosed(outcome: 'closed' | 'vanished', error?: Error): void;
}

/**
 * Connects two sockets both ways without buffering beyond the sockets' own high-water marks:
 * a reader pauses while its writer is full (until 'drain') or while its token bucket is in debt.
 * A FIN from one side becomes a FIN to the other (half-close); a reset or a failure on one side
 * resets the other, so a truncated stream never looks like a clean end.
 */
export function splice(sockets: [Socket, Socket], buckets: [TokenBucket | undefined, TokenBucket | undefined], hooks: SpliceHooks): void {
  const ended: [boolean, boolean] = [false, false];
  let closed = 0;
  let failure: Error | undefined;
  let vanished = false;

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
      if (++closed === 2) hooks.onClosed(vanished || failure ? 'vanished' : 'closed', failure);
    });
  };

  pump(0);
  pump(1);
  sockets[0].resume();
  sockets[1].resume();
}
