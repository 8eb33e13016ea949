import { InvalidArgumentError } from '../errors.js';
import type { RelayEndpoints } from './relay-server.js';

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffff;
}

/**
 * Checks relay endpoints that arrived from elsewhere (the broker's coordination carries them as
 * plain JSON) before a client dials them.
 */
export function parseRelayEndpoints(value: unknown): RelayEndpoints {
  const candidate = value as Partial<RelayEndpoints> | null;
  if (
    typeof candidate !== 'object' || candidate === null || typeof candidate.host !== 'string' || candidate.host.length === 0 ||
    !isPort(candidate.tcpPort) || !isPort(candidate.udpPort)
  ) {
    throw new InvalidArgumentError(`relay endpoints must be { host, tcpPort, udpPort }, got ${JSON.stringify(value)}`);
  }
  const endpoints: RelayEndpoints = { host: candidate.host, tcpPort: candidate.tcpPort, udpPort: candidate.udpPort };
  // Optional: a relay from before UDP-over-TCP attachments does not announce it.
  if (candidate.datagramTcpPort !== undefined) {
    if (!isPort(candidate.datagramTcpPort)) throw new InvalidArgumentError(`relay datagramTcpPort must be a port, got ${JSON.stringify(candidate.datagramTcpPort)}`);
    endpoints.datagramTcpPort = candidate.datagramTcpPort;
  }
  return endpoints;
}
