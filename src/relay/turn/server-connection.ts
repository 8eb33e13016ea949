import net from 'node:net';
import tls from 'node:tls';
import { deadline } from '../abort.js';
import { TurnClosedError, TurnTlsError } from './errors.js';

/** How to trust a TURN server over TLS (`turns:`, RFC 8656 §3.1). */
export interface TurnTlsOptions {
  /** Trusted CA certificates (PEM) in place of Node's bundled roots. @default Node's root CAs */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Verify the server's certificate chain and that it names the host. Turn it off only in tests or
   * private deployments: without it anyone on the path can pose as the TURN server. @default true
   */
  rejectUnauthorized?: boolean;
}

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
  return tls.connect({
    host: server.host,
    port: server.port,
    // RFC 6066 forbids an IP address as SNI; Node then checks the certificate's IP SANs against `host`.
    ...(net.isIP(server.host) === 0 ? { servername: server.host } : {}),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  });
}
