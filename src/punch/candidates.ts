import { isIP } from 'node:net';

/**
 * Candidate endpoints a peer advertises for hole punching (ICE's vocabulary, RFC 8445 §5.1.1):
 * `host` is a local (usually private) address, `srflx` the mapping a STUN server observed,
 * `predicted` a mapping expected on a sequential NAT. Shared by the UDP and TCP punchers.
 */
export type CandidateKind = 'host' | 'srflx' | 'predicted';

export interface Candidate {
  kind: CandidateKind;
  address: string;
  port: number;
}

const MAX_PORT = 65535;
const KIND_ORDER: Record<CandidateKind, number> = { host: 0, srflx: 1, predicted: 2 };

export function candidateKey(candidate: { address: string; port: number }): string {
  return `${candidate.address}|${candidate.port}`;
}

/**
 * True when `value` has a candidate's shape, with an IP literal (never a name: a peer must not
 * make us resolve names); used to validate candidates from callers and from the wire.
 */
export function isCandidate(value: unknown): value is Candidate {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, address, port } = value as Record<string, unknown>;
  return (
    (kind === 'host' || kind === 'srflx' || kind === 'predicted') &&
    typeof address === 'string' &&
    isIP(address) !== 0 &&
    Number.isInteger(port) &&
    (port as number) > 0 &&
    (port as number) <= MAX_PORT
  );
}

/**
 * Drops duplicates (same address and port; the first kind in host, srflx, predicted order wins,
 * because a host candidate equal to a srflx one means there is no NAT) and sorts by kind.
 */
export function normalizeCandidates(candidates: readonly Candidate[]): Candidate[] {
  const sorted = [...candidates].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
  const seen = new Set<string>();
  return sorted.filter((candidate) => {
    const key = candidateKey(candidate);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A candidate as the broker's coordination carries it (src/broker/protocol.ts `Candidate`). */
export interface BrokerCandidate {
  source: 'broker-observed' | 'profile-udp' | 'profile-tcp' | 'private';
  address: string;
  port?: number;
}

/**
 * The punch candidates among the broker's, for one transport: private addresses become `host`
 * candidates, the profile's mapping for that transport becomes `srflx`. The broker-observed
 * endpoint is the broker connection's own TCP mapping, not a punching endpoint, so it is left
 * out; so are entries without a port.
 */
export function fromBrokerCandidates(candidates: readonly BrokerCandidate[], transport: 'udp' | 'tcp'): Candidate[] {
  const profileSource = transport === 'udp' ? 'profile-udp' : 'profile-tcp';
  const result: Candidate[] = [];
  for (const { source, address, port } of candidates) {
    if (port === undefined) continue;
    if (source === 'private') result.push({ kind: 'host', address, port });
    else if (source === profileSource) result.push({ kind: 'srflx', address, port });
  }
  return normalizeCandidates(result.filter(isCandidate));
}
