import { isIP } from 'node:net';
import type { Candidate } from './protocol.js';

/**
 * The server-reflexive addresses a NatProfile reports (`udp.mapped`, `tcp.mapped`). The profile is
 * opaque to the broker, so anything that is not a plain { address, port } is ignored.
 */
export function reflexiveCandidates(profile: Record<string, unknown> | null): Candidate[] {
  if (!profile) return [];
  const candidates: Candidate[] = [];
  for (const [section, source] of [['udp', 'profile-udp'], ['tcp', 'profile-tcp']] as const) {
    const mapped = (profile[section] as { mapped?: unknown } | undefined)?.mapped as { address?: unknown; port?: unknown } | undefined;
    if (!mapped || typeof mapped.address !== 'string' || isIP(mapped.address) === 0) continue;
    const port = mapped.port;
    candidates.push({ source, address: mapped.address, ...(Number.isInteger(port) && (port as number) > 0 && (port as number) <= 65535 ? { port: port as number } : {}) });
  }
  return candidates;
}
