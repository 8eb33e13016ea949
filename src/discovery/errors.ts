import { NtcpError } from '../errors.js';

/** The STUN server's host name did not resolve to an address. */
export class DiscoveryResolveError extends NtcpError {
  readonly host: string;

  constructor(host: string, options?: { cause?: unknown }) {
    super('ERR_DISCOVERY_RESOLVE', `cannot resolve STUN server host "${host}"`, options);
    this.host = host;
  }
}
