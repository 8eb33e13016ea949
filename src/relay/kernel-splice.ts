import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { RelaySpliceError } from './errors.js';
import type { SpliceEngine, SpliceHandle, SpliceHooks, SpliceRate } from './splice.js';

/** The addon built from native/splice.c by `npm install` (scripts/build-native.mjs). */
const ADDON_PATH = '../../build/Release/ntcp_splice.node';
/** How often, at most, an active session reports its byte counts (idle timeout, counters). */
const ACTIVITY_REPORT_MS = 100;
const Outcome = { Active: 0, Closed: 1, Vanished: 2 } as const;

type NativeHandle = object;
interface KernelSpliceBinding {
  start(fd0: number, fd1: number, headTo0: Buffer, headTo1: Buffer, bytesPerSecond: number, burstBytes: number, reportMs: number,
    callback: (outcome: number, bytesFrom0: number, bytesFrom1: number, failure: string | undefined) => void): NativeHandle;
  abort(handle: NativeHandle): [number, number];
}

let loaded: { binding: KernelSpliceBinding } | { error: Error } | undefined;

/** Loads the addon once; the error says why the kernel engine is not available. */
export function loadKernelSplice(): { binding: KernelSpliceBinding } | { error: Error } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { error: new Error(`splice(2) is Linux only (this is ${process.platform})`) };
    return loaded;
  }
  try {
    loaded = { binding: createRequire(import.meta.url)(ADDON_PATH) as KernelSpliceBinding };
  } catch (error) {
    loaded = { error: error as Error };
  }
  return loaded;
}

/**
 * Node exposes a TCP socket's descriptor only on its internal handle; there is no public API.
 * A socket without one (destroyed, or not a real TCP socket) cannot be handed over.
 */
function descriptorOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new RelaySpliceError('socket has no descriptor to hand over (destroyed, or not a TCP socket)');
  return fd;
}

/**
 * The kernel engine: the addon relays with splice(2), so payload never enters user space.
 * Hand-over: the sockets come paused with nothing pending in Node (the caller moved any bytes
 * Node had read into `heads`); the addon dup()s both descriptors and Node's sockets are destroyed.
 * Closing Node's descriptor sends no FIN while the dup keeps the connection open, and options set
 * before (keepalive, nodelay) belong to the connection, so they stay.
 */
export function kernelSpliceEngine(binding: KernelSpliceBinding): SpliceEngine {
  return {
    name: 'kernel',
    splice: (sockets, heads, rate, hooks) => kernelSplice(binding, sockets, heads, rate, hooks),
  };
}

function kernelSplice(binding: KernelSpliceBinding, sockets: [Socket, Socket], heads: [Buffer, Buffer], rate: SpliceRate, hooks: SpliceHooks): SpliceHandle {
  if (sockets.some((socket) => socket.writableLength > 0)) throw new RelaySpliceError('a socket still has bytes queued in Node');
  const fds = [descriptorOf(sockets[0]), descriptorOf(sockets[1])];
  const reported: [number, number] = [0, 0];
  let done = false;
  const report = (totals: [number, number]): void => {
    for (const from of [0, 1] as const) {
      const delta = totals[from] - reported[from];
      reported[from] = totals[from];
      if (delta > 0) hooks.onBytes(delta, from);
    }
  };
  let handle: NativeHandle;
  try {
    handle = binding.start(fds[0]!, fds[1]!, heads[0], heads[1], rate.bytesPerSecond, rate.burstBytes, ACTIVITY_REPORT_MS,
      (outcome, from0, from1, failure) => {
        report([from0, from1]);
        if (outcome === Outcome.Active) return;
        done = true;
        const error = failure === undefined ? undefined : Object.assign(new Error(failure), { code: failure.split(':')[0] });
        hooks.onClosed(outcome === Outcome.Closed ? 'closed' : 'vanished', error);
      });
  } catch (error) {
    throw new RelaySpliceError('the kernel splice could not take over the sockets', { cause: error });
  }
  for (const socket of sockets) socket.destroy();
  return {
    abort() {
      if (done) return;
      done = true;
      report(binding.abort(handle));
    },
  };
}
