/**
 * Per-connection verification on a freshly punched TCP stream. Both sides prove knowledge of the
 * broker's secret for this connection id, bound to the prover's role (so a reflected proof or a
 * self-connect fails), in as few flights as the initiator can wait for:
 *   1. the initiator sends HELLO = MAGIC | role | nonce;
 *      the responder sends HELLO = MAGIC | role | nonce and, in the same flight,
 *      EARLY PROOF = HMAC-SHA256(secret, EARLY_LABEL | connectionId | role | ownNonce);
 *   2. the initiator, having checked the early proof, holds a verified stream half a round trip
 *      after connecting. On the one stream it keeps it sends
 *      PROOF = HMAC-SHA256(secret, LABEL | connectionId | role | responderNonce | ownNonce) and SELECT;
 *   3. the responder checks that proof (bound to its own fresh nonce, so never a replay) and
 *      hands out only a selected stream, so both ends keep the same connection.
 * The early proof carries no challenge from the initiator: only an on-path observer of this very
 * attempt could replay it, and such an observer could take over the plain TCP stream anyway.
 * Every read is bounded (exact sizes) and the whole exchange has a deadline.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { AbortedError } from '../../errors.js';
import { TcpVerificationError } from './errors.js';
import type { PunchRole } from './planner.js';

/** Version 2 (the early proof); a version 1 peer fails the magic check with a clear error. */
export const HANDSHAKE_MAGIC = Buffer.from('NTCPTCP2', 'ascii');
export const NONCE_BYTES = 16;
export const PROOF_BYTES = 32;
const HELLO_BYTES = HANDSHAKE_MAGIC.length + 1 + NONCE_BYTES;
const SELECT = 0x53;
const ROLE_BYTE: Record<PunchRole, number> = { initiator: 0x49, responder: 0x52 };
const PROOF_LABEL = 'ntcp/tcp-verify/1';
const EARLY_PROOF_LABEL = 'ntcp/tcp-verify/early';
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

/** The responder's first-flight proof: bound to its role and fresh nonce, not to a challenge. */
export function computeEarlyProof(secret: Buffer, connectionId: string, proverRole: PunchRole, proverNonce: Buffer): Buffer {
  const id = Buffer.from(connectionId, 'utf8');
  const idLength = Buffer.alloc(2);
  idLength.writeUInt16BE(id.length);
  return createHmac('sha256', secret).update(EARLY_PROOF_LABEL).update(idLength).update(id).update(Buffer.of(ROLE_BYTE[proverRole])).update(proverNonce).digest();
}

/** What the initiator's SELECT must carry, per verified stream. */
const pendingSelects = new WeakMap<Socket, Buffer>();

function peerRoleOf(role: PunchRole): PunchRole {
  return role === 'initiator' ? 'responder' : 'initiator';
}

/**
 * Runs the handshake: resolves on the initiator once the responder's early proof checked out (call
 * `selectStream` on the stream it keeps), on the responder once the initiator proved itself and
 * selected this stream. Rejects with TcpVerificationError or AbortedError otherwise. The socket
 * is left open either way: the caller decides (destroy on failure). Bytes that arrive after the
 * handshake stay buffered for the application.
 */
export function verifyStream(socket: Socket, options: HandshakeOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const ownNonce = randomBytes(NONCE_BYTES);
  const peerRole = peerRoleOf(options.role);
  const initiator = options.role === 'initiator';
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
      clearTimeout(timer);
      clearTimeout(helloTimer);
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else resolve();
    };
    const onHello = (hello: Buffer): Error | undefined => {
      if (!hello.subarray(0, HANDSHAKE_MAGIC.length).equals(HANDSHAKE_MAGIC)) {
        return new TcpVerificationError('peer did not speak the ntcp TCP handshake (version 2)');
      }
      if (hello[HANDSHAKE_MAGIC.length] !== ROLE_BYTE[peerRole]) {
        return new TcpVerificationError(`peer claims the ${options.role} role too (a self-connect or a reflection)`);
      }
      peerNonce = Buffer.from(hello.subarray(HANDSHAKE_MAGIC.length + 1));
      return undefined;
    };
    const onProof = (proof: Buffer): Error | undefined => {
      const expected = initiator
        ? computeEarlyProof(options.secret, options.connectionId, peerRole, peerNonce!)
        : computeProof(options.secret, options.connectionId, peerRole, ownNonce, peerNonce!);
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
          if (error !== undefined) {
            finish(error);
          } else if (initiator) {
            pendingSelects.set(socket, computeProof(options.secret, options.connectionId, options.role, peerNonce, ownNonce));
            finish();
          }
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
    const timer = setTimeout(() => finish(new TcpVerificationError(`no valid handshake from the peer within ${timeoutMs} ms`)), timeoutMs);
    const helloTimeoutMs = Math.min(options.helloTimeoutMs ?? timeoutMs, timeoutMs);
    const helloTimer = setTimeout(() => {
      if (peerNonce === undefined) finish(new TcpVerificationError(`no HELLO from the peer within ${helloTimeoutMs} ms (a half-open stream)`));
    }, helloTimeoutMs);

    socket.on('readable', onReadable);
    socket.on('close', onClose);
    socket.on('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const hello = Buffer.concat([HANDSHAKE_MAGIC, Buffer.of(ROLE_BYTE[options.role]), ownNonce]);
    socket.write(initiator ? hello : Buffer.concat([hello, computeEarlyProof(options.secret, options.connectionId, options.role, ownNonce)]));
  });
}

/** Step 2's end: the initiator keeps this stream and proves itself on it (call once, only on a stream verifyStream verified). */
export function selectStream(socket: Socket): void {
  const proof = pendingSelects.get(socket);
  if (proof === undefined) throw new TcpVerificationError('selectStream needs a stream the initiator verified');
  pendingSelects.delete(socket);
  socket.write(Buffer.concat([proof, Buffer.of(SELECT)]));
}
