import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { AttachStatus, RelayAttachError, RelayClosedError } from './errors.js';
import { encodeTcpAttach, parseTcpReply, TCP_REPLY_LENGTH } from './attach-protocol.js';
import { deadline } from './abort.js';

export interface AttachTcpOptions {
  host: string;
  port: number;
  /** This peer's token from the broker's relay grant. */
  token: string;
  /** Local address to connect from. @default the system's choice */
  localAddress?: string;
  signal?: AbortSignal;
  /** Covers connecting, the attach exchange and waiting for the other peer. @default 30000 */
  timeoutMs?: number;
}

export const DEFAULT_ATTACH_TIMEOUT_MS = 30_000;

/**
 * Attaches to a built-in relay session over TCP and resolves, once the other peer is attached
 * too, with the connected socket: from then on it carries the other peer's bytes unchanged
 * (half-close included). Rejects with RelayAttachError (the relay's reason as `code`),
 * RelayClosedError, TimeoutError or AbortedError.
 */
export async function attachTcp(options: AttachTcpOptions): Promise<net.Socket> {
  const frame = encodeAttachFrame(options.token);
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS;
  const limit = deadline('relay attach', timeoutMs, options.signal);
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: options.host, port: options.port, localAddress: options.localAddress, allowHalfOpen: true });
    socket.setNoDelay(true);
    let received = Buffer.alloc(0);
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(limit.signal.reason as Error);
    const onError = (error: Error): void => fail(new RelayClosedError(`relay connection failed: ${error.message}`, { cause: error }));
    const onEnd = (): void => fail(new RelayClosedError('relay closed the connection during attach'));
    // Paused-mode reads: once our 'readable' listener is gone the socket is back to its initial
    // state, so the caller's first on('data') starts the flow and no relayed byte is lost.
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        received = Buffer.concat([received, chunk]);
        const reply = parseTcpReply(received);
        if (reply.kind === 'incomplete') continue;
        if (reply.kind === 'invalid') {
          fail(new RelayAttachError('ERR_RELAY_PROTOCOL', `relay sent a malformed reply: ${reply.reason}`));
          return;
        }
        if (reply.status !== AttachStatus.Ok) {
          fail(RelayAttachError.fromStatus(reply.status));
          return;
        }
        cleanup();
        const rest = received.subarray(TCP_REPLY_LENGTH);
        if (rest.length > 0) socket.unshift(rest);
        resolve(socket);
        return;
      }
    };
    const cleanup = (): void => {
      limit.dispose();
      limit.signal.removeEventListener('abort', onAbort);
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    if (limit.signal.aborted) {
      onAbort();
      return;
    }
    limit.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('readable', onReadable);
    socket.write(frame);
  });
}

function encodeAttachFrame(token: string): Buffer {
  try {
    return encodeTcpAttach(token);
  } catch (error) {
    throw new InvalidArgumentError('relay token must be 1..255 bytes', { cause: error });
  }
}
