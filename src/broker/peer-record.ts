import type net from 'node:net';
import { TokenBucket } from '../util/token-bucket.js';
import { wallClock } from '../util/clock.js';
import { RttEstimator } from './schedule.js';
import type { Candidate, CandidateAddress, PeerState, PunchPort, Transport, TransportAddress } from './protocol.js';
import { FrameDecoder } from './framing.js';

/** One TCP connection to the broker, registered or not (XSTUNT's log connection). */
export class Session {
  readonly socket: net.Socket;
  readonly observed: TransportAddress;
  readonly decoder: FrameDecoder;
  readonly bucket: TokenBucket;
  readonly connectedAt: number;
  helloDone = false;
  /** Set once a fatal error was sent: later frames are ignored while the socket ends. */
  closing = false;
  peer: PeerRecord | undefined;
  lastHeardAt: number;
  lastPingAt = 0;
  pingSeq = 0;
  /** When the outstanding ping left, 0 when none is outstanding. */
  pingSentAt = 0;
  pongWaiters: Array<() => void> | undefined;
  droppedByRate = 0;

  constructor(socket: net.Socket, observed: TransportAddress, options: { maxFrameBytes: number; ratePerSecond: number; burst: number }, now: number) {
    this.socket = socket;
    this.observed = observed;
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.bucket = new TokenBucket(options.ratePerSecond, options.burst, wallClock, now);
    this.connectedAt = now;
    this.lastHeardAt = now;
  }
}

/**
 * A registered id. It outlives its session: when the connection dies the record turns `dead`
 * and is purged later, so the owner can reclaim the id with its token after a reconnect.
 */
export class PeerRecord {
  readonly id: string;
  session: Session | undefined;
  observed: TransportAddress;
  /** Kept as text: a string is several times smaller than the parsed object. */
  profileJson: string | null;
  reflexive: Candidate[];
  privateAddresses: CandidateAddress[];
  transports: Transport[];
  /** The TCP port the peer keeps ready to punch from (feature `punch-port`), while it announces one. */
  tcpPunchPort: PunchPort | undefined;
  readonly reclaimToken: Buffer;
  readonly registeredAt: number;
  deadAt = 0;
  readonly rtt = new RttEstimator();
  /** Connection ids of coordinations in progress; allocated only while busy. */
  coordinations: Set<string> | undefined;

  constructor(init: {
    id: string; session: Session; profileJson: string | null; reflexive: Candidate[];
    privateAddresses: CandidateAddress[]; transports: Transport[]; reclaimToken: Buffer; now: number;
  }) {
    this.id = init.id;
    this.session = init.session;
    this.observed = init.session.observed;
    this.profileJson = init.profileJson;
    this.reflexive = init.reflexive;
    this.privateAddresses = init.privateAddresses;
    this.transports = init.transports;
    this.tcpPunchPort = undefined;
    this.reclaimToken = init.reclaimToken;
    this.registeredAt = init.now;
  }

  get state(): PeerState {
    if (!this.session) return 'dead';
    return this.coordinations && this.coordinations.size > 0 ? 'busy' : 'idle';
  }

  get coordinationCount(): number {
    return this.coordinations?.size ?? 0;
  }

  addCoordination(connectionId: string): void {
    (this.coordinations ??= new Set()).add(connectionId);
  }

  removeCoordination(connectionId: string): void {
    this.coordinations?.delete(connectionId);
    if (this.coordinations?.size === 0) this.coordinations = undefined;
  }
}
