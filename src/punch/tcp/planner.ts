/**
 * The TCP strategy table (pure: no sockets, no timers). Both peers run this on the same inputs
 * (the initiator's and the responder's NAT as each learned them through the broker), so both
 * arrive at the same ordered list of stages and run stage k in the same time slot.
 */
import type { NatProfile } from '../../discovery/profile.js';

/** How the connection was made, as reported to the user. */
export type TcpMethod = 'lan' | 'tcp-direct' | 'tcp-reversal' | 'tcp-simultaneous-open' | 'tcp-stunt2' | 'tcp-predict';

export type PunchRole = 'initiator' | 'responder';

/** How one side's NAT treats new TCP connections, reduced to what the table needs. */
export interface TcpNatView {
  /** No NAT in front of the host: its advertised port is reachable as is. */
  public: boolean;
  /** cone: one public port per local port; delta: next port = last + delta; random: unpredictable. */
  mapping: 'cone' | 'delta' | 'random' | 'unknown';
  delta?: number;
  /** Which unsolicited inbound connections the NAT lets through once the host has sent out. */
  filtering: 'open' | 'address' | 'port' | 'unknown';
  /** The NAT's public address, when known (same on both sides: same NAT, try the LAN). */
  publicAddress?: string;
}

export type TcpTechnique =
  /** The listener side accepts on its advertised port; the other side dials it. */
  | 'listen-dial'
  /** Both sides dial each other from their advertised port at the same time, redialling on RST. */
  | 'simultaneous-open'
  /** STUNT #2: the opener's SYN opens its NAT, it listens, the dialer connects into the hole. */
  | 'asymmetric';

export interface TcpStage {
  technique: TcpTechnique;
  method: TcpMethod;
  /** Length of the stage's time slot; both sides give up on it at the same moment. */
  durationMs: number;
  /** listen-dial: who listens. asymmetric: who opens first (roles swap once if its SYN is refused). */
  lead?: PunchRole;
  /** Dial the peer's private (host) candidates instead of its public ones. */
  hostCandidates?: boolean;
  /** Sides whose NAT is sequential probe a fresh mapping before dialling and predict the next. */
  predict?: boolean;
  /**
   * asymmetric only: the lead's NAT maps randomly, so it opens many holes from fresh ports and
   * the other side probes random ports of its public address (the birthday technique).
   */
  birthday?: boolean;
}

export interface TcpPlan {
  stages: TcpStage[];
  /** Why there are no stages (both NATs unpredictable), for the error the caller gets. */
  impossible?: string;
}

/** A LAN dial answers in well under a millisecond; this bounds a missing or firewalled one. */
export const LAN_STAGE_MS = 1500;
/** A public listener answers within one round trip plus a lost SYN's first retransmission (1 s). */
export const DIRECT_STAGE_MS = 2500;
/** Synchronised simultaneous open: the SYNs cross within a round trip; RST races need a few redials. */
export const SIMULTANEOUS_OPEN_STAGE_MS = 3000;
/** STUNT #2 with prediction: fresh probe + mapping exchange + open + dial, roles possibly swapped. */
export const ASYMMETRIC_STAGE_MS = 4000;

function sameNat(initiator: TcpNatView, responder: TcpNatView): boolean {
  return (
    initiator.publicAddress !== undefined &&
    initiator.publicAddress === responder.publicAddress &&
    !(initiator.public && responder.public)
  );
}

function predictable(view: TcpNatView): boolean {
  return view.mapping === 'cone' || view.mapping === 'delta' || view.mapping === 'unknown';
}

/** Lets in connections from a peer port it never sent to (needed to reach a random mapper). */
function admitsUnknownPort(view: TcpNatView): boolean {
  return view.filtering === 'open' || view.filtering === 'address';
}

/**
 * The table: (initiator NAT, responder NAT) -> stages in order. Role-normalised so the two peers
 * agree; each peer swaps its (local, remote) views into (initiator, responder) before calling.
 */
export function planTcp(initiator: TcpNatView, responder: TcpNatView): TcpPlan {
  const stages: TcpStage[] = [];
  // 2. LAN: same public address means the private addresses are probably mutually reachable.
  if (sameNat(initiator, responder)) {
    stages.push({ technique: 'listen-dial', method: 'lan', durationMs: LAN_STAGE_MS, lead: 'responder', hostCandidates: true });
  }
  // 1. A public side listens; the NATed side dials it (reversal when the initiator is the public one).
  if (responder.public) {
    stages.push({ technique: 'listen-dial', method: 'tcp-direct', durationMs: DIRECT_STAGE_MS, lead: 'responder' });
    return { stages };
  }
  if (initiator.public) {
    stages.push({ technique: 'listen-dial', method: 'tcp-reversal', durationMs: DIRECT_STAGE_MS, lead: 'initiator' });
    return { stages };
  }
  const prediction = initiator.mapping === 'delta' || responder.mapping === 'delta';
  // 3-5. Both behind NATs.
  if (predictable(initiator) && predictable(responder)) {
    if (prediction) {
      // 5. A sequential NAT side must make exactly the mappings the other side predicted, so it
      //    dials once, into a hole the cone side opened first (STUNT #2 roles, XPredict ports).
      stages.push({ technique: 'asymmetric', method: 'tcp-predict', durationMs: ASYMMETRIC_STAGE_MS, lead: coneSideOrInitiator(initiator, responder), predict: true });
      stages.push({ technique: 'simultaneous-open', method: 'tcp-predict', durationMs: SIMULTANEOUS_OPEN_STAGE_MS, predict: true });
      return { stages };
    }
    // 3. Cone pairs: synchronised simultaneous open connects in one round trip when NATs drop
    //    unsolicited SYNs and wins the RST race by redialling; 4. STUNT #2 is the second chance.
    stages.push({ technique: 'simultaneous-open', method: 'tcp-simultaneous-open', durationMs: SIMULTANEOUS_OPEN_STAGE_MS });
    stages.push({ technique: 'asymmetric', method: 'tcp-stunt2', durationMs: ASYMMETRIC_STAGE_MS, lead: 'initiator' });
    return { stages };
  }
  // A random mapper can still dial into a NAT that admits unknown ports once its host sent out:
  // that side opens (listening on its mapped port), the random side dials it.
  const openerForRandom = randomPeerOpener(initiator, responder);
  if (openerForRandom !== undefined) {
    stages.push({ technique: 'asymmetric', method: 'tcp-stunt2', durationMs: ASYMMETRIC_STAGE_MS, lead: openerForRandom });
    return { stages };
  }
  // 5. Random against a port-filtering cone: a bounded birthday attempt. The random side opens
  //    many holes towards the cone's one public endpoint; the cone side probes random ports.
  const randomSide = randomAgainstCone(initiator, responder);
  if (randomSide !== undefined) {
    stages.push({ technique: 'asymmetric', method: 'tcp-predict', durationMs: ASYMMETRIC_STAGE_MS, lead: randomSide, birthday: true });
    return { stages };
  }
  if (stages.length > 0) return { stages };
  return {
    stages,
    impossible:
      initiator.mapping === 'random' && responder.mapping === 'random'
        ? 'both NATs map TCP ports randomly: no direct path'
        : 'one NAT maps TCP ports randomly and the other is not endpoint-independent: no direct path',
  };
}

function randomAgainstCone(initiator: TcpNatView, responder: TcpNatView): PunchRole | undefined {
  if (initiator.mapping === 'random' && responder.mapping === 'cone') return 'initiator';
  if (responder.mapping === 'random' && initiator.mapping === 'cone') return 'responder';
  return undefined;
}

function coneSideOrInitiator(initiator: TcpNatView, responder: TcpNatView): PunchRole {
  if (initiator.mapping === 'delta' && responder.mapping !== 'delta') return 'responder';
  return 'initiator';
}

function randomPeerOpener(initiator: TcpNatView, responder: TcpNatView): PunchRole | undefined {
  if (initiator.mapping === 'random' && responder.mapping === 'cone' && admitsUnknownPort(responder)) return 'responder';
  if (responder.mapping === 'random' && initiator.mapping === 'cone' && admitsUnknownPort(initiator)) return 'initiator';
  return undefined;
}

/** Start of each stage, as an offset from the synchronised start time. */
export function stageOffsets(plan: TcpPlan): number[] {
  let offset = 0;
  return plan.stages.map((stage) => {
    const start = offset;
    offset += stage.durationMs;
    return start;
  });
}

const FILTERING: Record<string, TcpNatView['filtering']> = {
  'endpoint-independent': 'open',
  'address-dependent': 'address',
  'address-and-port-dependent': 'port',
};

/**
 * Reduces a discovery profile to the table's view. TCP filtering is not measured by discovery,
 * so the UDP filtering of the same NAT stands in for it. `publicAddress` falls back to a srflx
 * candidate the broker relayed when the profile has no TCP mapping.
 */
export function natViewOf(profile: NatProfile | undefined, fallbackPublicAddress?: string): TcpNatView {
  const tcp = profile?.tcp;
  const publicAddress = tcp?.mapped?.address ?? fallbackPublicAddress;
  if (tcp === undefined || !tcp.reachable) {
    const view: TcpNatView = { public: false, mapping: 'unknown', filtering: 'unknown' };
    return publicAddress === undefined ? view : { ...view, publicAddress };
  }
  const isPublic =
    tcp.natPresent === false || (tcp.mapped !== null && profile!.local.interfaces.includes(tcp.mapped.address));
  const mapping: TcpNatView['mapping'] =
    tcp.kind === 'cone' ? 'cone' : tcp.kind === 'delta-symmetric' ? 'delta' : tcp.kind === 'random-symmetric' ? 'random' : 'unknown';
  const view: TcpNatView = {
    public: isPublic,
    mapping: isPublic ? 'cone' : mapping,
    filtering: isPublic ? 'open' : (FILTERING[profile?.udp?.filtering ?? ''] ?? 'unknown'),
  };
  if (mapping === 'delta' && tcp.delta !== undefined) view.delta = tcp.delta;
  if (publicAddress !== undefined) view.publicAddress = publicAddress;
  return view;
}
