import type net from 'node:net';
import tls from 'node:tls';
import { InvalidArgumentError } from '../errors.js';
import type { BrokerTlsServerOptions } from './server-options.js';

/** The broker's certificate and key, loaded once at start: a bad PEM is the operator's mistake, reported before listening. */
export function brokerSecureContext(options: BrokerTlsServerOptions): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: options.cert, key: options.key });
  } catch (error) {
    throw new InvalidArgumentError(`broker tls: unusable certificate or key: ${(error as Error).message}`, { cause: error });
  }
}

export interface HandshakeEvents {
  onTimeout(): void;
  /** The connection closed before its handshake completed; `error` when TLS reported one. */
  onFailure(error: Error | undefined): void;
}

/**
 * Server-side TLS on an accepted TCP connection. The connection holds its slot while it
 * handshakes, and TLS records a client trickles in would keep an idle timer alive, so the
 * handshake gets a fixed deadline: a client that never sends or finishes its ClientHello is cut.
 */
export function acceptTls(socket: net.Socket, context: tls.SecureContext, handshakeTimeoutMs: number, events: HandshakeEvents): tls.TLSSocket {
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  let state: 'handshaking' | 'established' | 'timed-out' = 'handshaking';
  let failure: Error | undefined;
  const timer = setTimeout(() => {
    state = 'timed-out';
    events.onTimeout();
    secure.destroy();
  }, handshakeTimeoutMs);
  timer.unref();
  secure.once('secure', () => {
    state = 'established';
    clearTimeout(timer);
  });
  secure.on('error', (error) => {
    failure ??= error;
  });
  // A client that rejects our certificate just closes (Node verifies after OpenSSL's handshake): no error here.
  secure.once('close', () => {
    clearTimeout(timer);
    if (state === 'handshaking') events.onFailure(failure);
  });
  return secure;
}
