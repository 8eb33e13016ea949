import type net from 'node:net';
import type { z } from 'zod';
import type { BrokerMessage } from './protocol.js';
import type { Session } from './peer-record.js';
import { BadMessageError, InvalidIdError, type BrokerError } from './errors.js';

/** How long a peer may keep a connection open after the broker's last frame. */
const FATAL_END_GRACE_MS = 1000;

/**
 * Sends a last frame and half-closes. A closing session is skipped by the sweep, so a peer that
 * never closes its side, or keeps sending (which would reset an idle timeout), is cut by a plain
 * timer instead: a closing connection cannot hold a connection slot.
 */
export function endGracefully(socket: net.Socket, lastFrame: Buffer): void {
  if (socket.destroyed) return;
  socket.end(lastFrame);
  const timer = setTimeout(() => socket.destroy(), FATAL_END_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

export function errorReply(error: BrokerError, requestId?: string, fatal?: boolean): BrokerMessage {
  return {
    type: 'error', code: error.code, message: error.message,
    ...(requestId === undefined ? {} : { requestId }),
    ...(fatal ? { fatal } : {}),
    ...(error.details ? { details: error.details } : {}),
  };
}

/** Invalid ids get their own code; anything else is a bad message with zod's first complaint. */
export function invalidMessageError(raw: unknown, error: z.ZodError): BrokerError {
  const issue = error.issues[0];
  const field = issue?.path[0];
  const type = (raw as { type?: unknown } | null)?.type;
  if ((field === 'id' || field === 'peerId' || field === 'after') && issue) return new InvalidIdError(issue.message);
  return new BadMessageError(`invalid ${typeof type === 'string' ? type.slice(0, 32) : 'message'}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown'}`);
}

export function requestIdOf(raw: unknown): string | undefined {
  const requestId = (raw as { requestId?: unknown } | null)?.requestId;
  return typeof requestId === 'string' && requestId.length > 0 && requestId.length <= 64 ? requestId : undefined;
}


/** The server's one way to write to a client (bounded by its write buffer); see BrokerServer. */
export type SendMessage = (session: Session, message: BrokerMessage, rawProfile?: string | null) => void;
