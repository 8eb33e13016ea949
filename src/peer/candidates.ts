import { interfaceAddresses } from '../discovery/local-address.js';
import type { Candidate as BrokerCandidate, PunchPort } from '../broker/index.js';
import { normalizeCandidates, type Candidate } from '../punch/candidates.js';

/**
 * The broker's candidates the punch engines can use before the peer's own announcements arrive:
 * private addresses with a port, as `host` candidates. The profile's mappings belong to the
 * discovery sockets, which are closed, and the broker-observed one to the broker connection, so
 * those ports would only be probed in vain: every connection punches from a socket of its own
 * and the engines announce its endpoints to the peer through signaling.
 */
export function punchCandidates(candidates: readonly BrokerCandidate[]): Candidate[] {
  const converted: Candidate[] = [];
  for (const candidate of candidates) {
    if (candidate.source !== 'private' || candidate.port === undefined || candidate.port <= 0) continue;
    converted.push({ kind: 'host', address: candidate.address, port: candidate.port });
  }
  return normalizeCandidates(converted);
}

/**
 * TCP: with the peer's ready punching port from the broker, its public mapping is an srflx
 * candidate and its private addresses (sent behind the same NAT only) carry the port itself.
 */
export function tcpPunchCandidates(candidates: readonly BrokerCandidate[], peerPort: PunchPort | undefined): Candidate[] {
  if (peerPort === undefined) return punchCandidates(candidates);
  const converted: Candidate[] = [];
  for (const candidate of candidates) {
    if (candidate.source === 'private') converted.push({ kind: 'host', address: candidate.address, port: peerPort.hostPort });
  }
  converted.push({ kind: 'srflx', address: peerPort.address, port: peerPort.port });
  return normalizeCandidates(converted);
}

/** This host's addresses a peer behind the same NAT may reach (IPv4 and IPv6, no loopback). */
export function localHostAddresses(): string[] {
  return interfaceAddresses().filter((address) => !address.startsWith('fe80:'));
}
