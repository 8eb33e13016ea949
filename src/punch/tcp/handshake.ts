/**
 * Per-connection verification on a freshly punched TCP stream. Both sides prove knowledge of the
 * broker's secret for this connection id, bound to fresh nonces from both ends and to the
 * prover's role (so a reflected proof or a self-connect fails):
 *   1. each side sends HELLO = MAGIC | role | nonce;
 *   2. each side sends PROOF = HMAC-SHA256(secret, LABEL | connectionId | role | peerNonce | ownNonce);
 *   3. the initiator, which may hold several verified streams, sends SELECT on the one it keeps;
 *      the responder hands out only a selected stream, so both ends keep the same connection.
 * Every read is bounded (exact sizes) and the whole exchange has a deadline.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { AbortedError } from '../../errors.js';
import { setIoTimeout } from '../../util/io-timeout.js';
import { TcpVerificationError } from './errors.js';
import type { PunchRole } from './planner.js';

export const HANDSHAKE_MAGIC = Buffer.from('NTCPTCP1', 'ascii');
export const NONCE_BYTES = 16;
export const PROOF_BYTES = 32;
const HELLO_BYTES = HANDSHAKE_MAGIC.length + 1 + NONCE_BYTES;
const SELECT = 0x53;
const ROLE_BYTE: Record<PunchRole, number> = { initiator: 0x49, responder: 0x52 };
const PROOF_LABEL = 'ntcp/tcp-verify/1';
/** Three round trips on a slow path, with room for a retransmitted segment. @default */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;

export interface HandshakeOptions {
  role: PunchRole;
  connectionId: string;
  secret: Buffer;
  /** @default DEFAULT_HANDSHAKE_TIMEOUT_MS */
  timeoutMs?: number;
  /**
   * Give up sooner when not even the peer's HELLO arrived: a simultaneous open that lost its
   * race can leave a half-open stream whose far end no longer exists. @default timeoutMs
   */
  helloTimeoutMs?: number;
  signal?: AbortSignal;
}

export function computeProof(secret: Buffer, connectionId: string, proverRole: PunchRole, challengerNonce: Buffer, proverNonce: Buffer): Buffer {
  const id = Buffer.from(connectionId, 'utf8');
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(id.length);
  return createHmac('sha256', secret)
    .update(PROOF_LABEL)
    .update(idLength)
    .update(id)
    .update(Buffer.of(ROLE_BYTE[proverRole]))
    .update(challengerNonce)
    .update(proverNonce)
    .digest();
}

function peerRoleOf(role: PunchRole): PunchRole {
  return role === 'initiator' ? 'responder' : 'initiator';
}

/**
 * Runs steps 1-2 (and, for the responder, waits for step 3). Resolves when the peer proved itself;
 * rejects with TcpVerificationError (or TimeoutError-like verification error / AbortedError)
 * otherwise. The socket is left open either way: the caller decides (destroy on failure).
 * Bytes that arrive after the handshake stay buffered for the application.
 */
export function verifyStream(socket: Socket, options: HandshakeOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const ownNonce = randomBytes(NONCE_BYTES);
  const peerRole = peerRoleOf(options.role);
  if (options.signal?.aborted) return Promise.reject(new AbortedError('TCP verification aborted', { cause: options.signal.reason }));

  return new Promise<void>((resolve, reject) => {
    let peerNonce: Buffer | undefined;
    let peerProved = false;
    let settled = false;

    // 'readable' mode reads exact sizes and leaves everything after the handshake buffered; once
    // the listener is gone the stream returns to its initial mode, so the application's first
    // 'data' listener or pipe() starts the flow as on any fresh socket.
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      cancelTimer();
      cancelHelloTimer();
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else resolve();
    };
    const onHello = (hello: Buffer): Error | undefined => {
      if (!hello.subarray(0, HANDSHAKE_MAGIC.length).equals(HANDSHAKE_MAGIC)) {
        return new TcpVerificationError('peer did not speak the ntcp TCP handshake');
      }
      if (hello[HANDSHAKE_MAGIC.length] !== ROLE_BYTE[peerRole]) {
        return new TcpVerificationError(`peer claims the ${options.role} role too (a self-connect or a reflection)`);
      }
      peerNonce = Buffer.from(hello.subarray(HANDSHAKE_MAGIC.length + 1));
      socket.write(computeProof(options.secret, options.connectionId, options.role, peerNonce, ownNonce));
      return undefined;
    };
    const onProof = (proof: Buffer): Error | undefined => {
      const expected = computeProof(options.secret, options.connectionId, peerRole, ownNonce, peerNonce!);
      if (!timingSafeEqual(proof, expected)) {
        return new TcpVerificationError('peer failed to prove the connection secret (wrong secret or connection id)');
      }
      peerProved = true;
      return undefined;
    };
    const onReadable = () => {
      while (!settled) {
        const wanted = peerNonce === undefined ? HELLO_BYTES : !peerProved ? PROOF_BYTES : 1;
        const chunk = socket.read(wanted) as Buffer | null;
        if (chunk === null) return;
        if (peerNonce === undefined) {
          const error = onHello(chunk);
          if (error !== undefined) finish(error);
        } else if (!peerProved) {
          const error = onProof(chunk);
          if (error !== undefined) finish(error);
          else if (options.role === 'initiator') finish();
        } else if (chunk[0] !== SELECT) {
          finish(new TcpVerificationError('peer sent garbage instead of selecting the stream'));
        } else {
          finish();
        }
      }
    };
    const onClose = () => finish(new TcpVerificationError('connection closed during verification'));
    const onError = (error: Error) => finish(new TcpVerificationError(`connection failed during verification: ${error.message}`, { cause: error }));
    const onAbort = () => finish(new AbortedError('TCP verification aborted', { cause: options.signal?.reason }));
    // Judged after the loop's poll phase: a HELLO that arrived in time is read first (io-timeout).
    const cancelTimer = setIoTimeout(() => finish(new TcpVerificationError(`no valid handshake from the peer within ${timeoutMs} ms`)), timeoutMs);
    const helloTimeoutMs = Math.min(options.helloTimeoutMs ?? timeoutMs, timeoutMs);
    const cancelHelloTimer = setIoTimeout(() => {
      if (peerNonce === undefined) finish(new TcpVerificationError(`no HELLO from the peer within ${helloTimeoutMs} ms (a half-open stream)`));
    }, helloTimeoutMs);

    socket.on('readable', onReadable);
    socket.on('close', onClose);
    socket.on('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.write(Buffer.concat([HANDSHAKE_MAGIC, Buffer.of(ROLE_BYTE[options.role]), ownNonce]));
  });
}

/** Step 3: the initiator keeps this stream (call once, only on a verified stream). */
export function selectStream(socket: Socket): void {
  socket.write(Buffer.of(SELECT));
}
