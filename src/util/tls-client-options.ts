import net from 'node:net';
import type tls from 'node:tls';

/** How a TLS client trusts its server. */
export interface TlsTrust {
  /** Trusted CA certificates (PEM) in place of Node's bundled roots. @default Node's root CAs */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Verify the server's certificate chain and that it names the host. Turn it off only in tests or
   * private deployments: without it anyone on the path can pose as the server. @default true
   */
  rejectUnauthorized?: boolean;
}

/**
 * The verification part of `tls.connect`'s options for a server reached at `host`. SNI carries
 * the name (`servername`, else `host`) only when it is a DNS name: RFC 6066 §3 forbids IP
 * literals there, and Node then checks the certificate's IP SANs against `host` instead.
 */
export function tlsClientOptions(host: string, trust: TlsTrust & { servername?: string }): tls.ConnectionOptions {
  const name = trust.servername ?? host;
  return {
    ...(net.isIP(name) === 0 ? { servername: name } : {}),
    ...(trust.ca === undefined ? {} : { ca: trust.ca }),
    rejectUnauthorized: trust.rejectUnauthorized ?? true,
  };
}
