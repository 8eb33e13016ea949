import net from 'node:net';
import tls from 'node:tls';
import { deadline } from '../abort.js';
import { tlsClientOptions, type TlsTrust } from '../../util/tls-client-options.js';
import { TurnClosedError, TurnTlsError } from './errors.js';

/** How to trust a TURN server over TLS (`turns:`, RFC 8656 §3.1). */
export type TurnTlsOptions = TlsTrust;

/**
 * A stream connection to the TURN server: plain TCP, or TLS when `tlsOptions` is given. Used for
 * the control connection and for each RFC 6062 data connection, which must be secured alike.
 */
export function connectToServer(server: { host: string; port: number }, tlsOptions: TurnTlsOptions | undefined, signal: AbortSignal | undefined, timeoutMs: number): Promise<net.Socket> {
  const limit = deadline(tlsOptions ? 'TURN TLS connect' : 'TURN TCP connect', timeoutMs, signal);
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = tlsOptions ? connectTls(server, tlsOptions) : net.connect({ host: server.host, port: server.port });
    let reached = false;
    const done = (error?: Error): void => {
      limit.dispose();
      limit.signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(socket);
    };
    const onAbort = (): void => done(limit.signal.reason as Error);
    // Once TCP is up, a failure is the handshake's: a certificate the options do not trust, most often.
    const onError = (error: Error): void => done(reached && tlsOptions
      ? new TurnTlsError(server, error)
      : new TurnClosedError(`cannot reach TURN server: ${error.message}`, { cause: error }));
    limit.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      reached = true;
      socket.setNoDelay(true);
      if (!tlsOptions) done();
    });
    if (tlsOptions) socket.once('secureConnect', () => done());
  });
}

function connectTls(server: { host: string; port: number }, options: TurnTlsOptions): tls.TLSSocket {
  return tls.connect({ host: server.host, port: server.port, ...tlsClientOptions(server.host, options) });
}
