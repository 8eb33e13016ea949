import type { Counters } from '../observe/counters.js';
import type { Candidate, PeerInfo } from './protocol.js';
import { RAW_JSON } from './framing.js';
import type { PeerRecord, Session } from './peer-record.js';
import type { PathDelay } from './schedule.js';
import type { BrokerCounter, BrokerQueryResult } from './server-options.js';

/** What the broker tells about its peers: management query pages and the views in coordinate messages. */

export interface QueryOptions {
  id?: string;
  after?: string;
  /** @default 100 */
  limit?: number;
}

/** Scheduling guess when a peer never answered a ping. */
const UNKNOWN_PATH: PathDelay = { rttMs: 100, rttVarMs: 50 };

const DEFAULT_QUERY_LIMIT = 100;

export function pathDelay(record: PeerRecord): PathDelay {
  if (record.rtt.srttMs === undefined) return UNKNOWN_PATH;
  return { rttMs: roundTenth(record.rtt.srttMs), rttVarMs: record.rtt.rttVarMs };
}

/** The stored profile text is spliced into the frame by #send instead of being parsed again. */
export function peerView(record: PeerRecord) {
  return {
    id: record.id,
    observed: record.observed,
    profile: record.profileJson === null ? null : (RAW_JSON as unknown as Record<string, unknown>),
    transports: record.transports,
  };
}

/** Same NAT: private addresses first (XSTUNT left this to the caller as ERR_SAME_NAT). */
export function candidatesOf(record: PeerRecord, sameNat: boolean): Candidate[] {
  const candidates: Candidate[] = [];
  if (sameNat) {
    for (const host of record.privateAddresses) candidates.push({ source: 'private', address: host.address, ...(host.port ? { port: host.port } : {}) });
  }
  candidates.push(...record.reflexive);
  candidates.push({ source: 'broker-observed', address: record.observed.address, port: record.observed.port });
  return candidates;
}

export function natSummary(profile: Record<string, unknown> | null | undefined): unknown {
  const udp = profile?.udp as { rfc3489Type?: unknown } | undefined;
  const tcp = profile?.tcp as { kind?: unknown } | undefined;
  return profile ? { udp: udp?.rfc3489Type, tcp: tcp?.kind } : undefined;
}

/** RTTs are reported to a tenth of a millisecond: finer digits are noise. */
function roundTenth(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** One page of peers (by id, or in registration order after `after`) with the broker's counts. */
export function queryPeers(
  state: { peers: ReadonlyMap<string, PeerRecord>; sessions: ReadonlySet<Session>; coordinations: number; counters: Counters<BrokerCounter> },
  options: QueryOptions,
): BrokerQueryResult {
  const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
  const peers: PeerInfo[] = [];
  let next: string | undefined;
  if (options.id !== undefined) {
    const record = state.peers.get(options.id);
    if (record) peers.push(peerInfo(record));
  } else {
    let skipping = options.after !== undefined;
    for (const record of state.peers.values()) {
      if (skipping) {
        skipping = record.id !== options.after;
        continue;
      }
      if (peers.length === limit) {
        next = peers[peers.length - 1]!.id;
        break;
      }
      peers.push(peerInfo(record));
    }
  }
  const counts = { connections: state.sessions.size, probe: 0, idle: 0, busy: 0, dead: 0, coordinations: state.coordinations };
  for (const session of state.sessions) if (!session.peer) counts.probe += 1;
  for (const record of state.peers.values()) counts[record.state] += 1;
  return { peers, ...(next === undefined ? {} : { next }), counts, counters: state.counters.snapshot() };
}

function peerInfo(record: PeerRecord): PeerInfo {
  return {
    id: record.id,
    state: record.state,
    observed: record.observed,
    profile: record.profileJson === null ? null : (JSON.parse(record.profileJson) as Record<string, unknown>),
    transports: record.transports,
    registeredAt: record.registeredAt,
    rttMs: record.rtt.srttMs === undefined ? null : roundTenth(record.rtt.srttMs),
    coordinations: record.coordinationCount,
  };
}
