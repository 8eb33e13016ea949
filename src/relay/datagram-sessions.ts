import { AttachStatus } from './errors.js';
import { encodeUdpReply, UDP_CLOSE } from './attach-protocol.js';
import type { Claim, EndReason, RelaySession, Side } from './session-table.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { RelayDeps } from './relay-deps.js';

/**
 * Where one peer of a UDP session is attached: a UDP address, or a TCP connection carrying framed
 * datagrams. Both take the relay's datagrams (type byte first) unchanged.
 */
export interface DatagramEndpoint {
  /** Identifies the attachment: the same key again is a retransmitted attach, not a new one. */
  readonly key: string;
  readonly transport: 'udp' | 'tcp';
  /** Sends one relay datagram (type byte first) to this peer; may drop it, as UDP would. */
  deliver(datagram: Buffer): void;
  /** Lets go of this attachment, after sending `farewell` (why the session ended) when given. */
  release(farewell?: Buffer): void;
}

interface AttachedPeer {
  endpoint: DatagramEndpoint;
  bucket: TokenBucket;
}

interface DatagramLink {
  peers: [AttachedPeer | undefined, AttachedPeer | undefined];
}

export type DatagramSession = RelaySession<DatagramLink>;
type ClaimOk = Extract<Claim, { status: typeof AttachStatus.Ok }>;

/**
 * The relay's UDP sessions, whichever way each peer attached: pairing and attach replies, the
 * per-peer byte rate, forwarding, and releasing both attachments when the session ends. The UDP
 * socket and the TCP datagram listener only parse their wire and hand datagrams here.
 */
export class DatagramSessions {
  readonly #deps: RelayDeps;

  constructor(deps: RelayDeps) {
    this.#deps = deps;
    deps.table.onTransportEnd('udp', (session, reason) => this.#release(session as DatagramSession, reason));
  }

  /**
   * Binds `endpoint` to the claimed side (replacing an earlier attachment of the same token) and
   * answers: Waiting to this peer while alone, Ok to both once paired.
   */
  attach(claim: ClaimOk, endpoint: DatagramEndpoint, source: string): DatagramSession {
    const { limits, logger, counters, clock } = this.#deps;
    const session = claim.session as DatagramSession;
    session.link ??= { peers: [undefined, undefined] };
    const previous = session.link.peers[claim.side];
    if (previous?.endpoint.key !== endpoint.key) {
      if (previous) {
        logger.info({ event: 'datagram-rebind', session: session.id, side: claim.side, from: previous.endpoint.key, to: endpoint.key }, 'relay peer attachment changed');
        previous.endpoint.release();
      }
      const bucket = previous?.bucket ?? new TokenBucket(limits.bytesPerSecond, limits.burstBytes, clock);
      session.link.peers[claim.side] = { endpoint, bucket };
    }
    session.lastActivity = clock.now();
    if (!claim.reattach) {
      counters.increment('attach_ok');
      logger.info({ event: 'attached', transport: 'udp', via: endpoint.transport, session: session.id, side: claim.side, source }, 'peer attached to relay');
    }
    if (!session.paired) {
      endpoint.deliver(encodeUdpReply(AttachStatus.Waiting));
      return session;
    }
    if (!claim.reattach) logger.info({ event: 'session-active', transport: 'udp', session: session.id }, 'relay session active');
    const ok = encodeUdpReply(AttachStatus.Ok);
    for (const peer of session.link.peers) peer!.endpoint.deliver(ok);
    return session;
  }

  /** True while `endpoint` is the attachment of `side` (it was not replaced and the session lasts). */
  holds(session: DatagramSession, side: Side, endpoint: DatagramEndpoint): boolean {
    return !session.ended && session.link?.peers[side]?.endpoint === endpoint;
  }

  /** Relays a DATA datagram (type byte included) from `side` to the other peer, within `side`'s byte rate. */
  forward(session: DatagramSession, side: Side, datagram: Buffer): void {
    const { counters, clock } = this.#deps;
    const from = session.link?.peers[side];
    const to = session.link?.peers[side === 0 ? 1 : 0];
    if (session.ended || !session.paired || !from || !to) {
      counters.increment('udp_datagrams_dropped');
      return;
    }
    if (!from.bucket.tryTake(datagram.length - 1)) {
      counters.increment('udp_datagrams_rate_dropped');
      return;
    }
    session.lastActivity = clock.now();
    counters.increment('udp_bytes_relayed', datagram.length - 1);
    to.endpoint.deliver(datagram);
  }

  /** A keepalive: the session is in use. */
  touch(session: DatagramSession): void {
    session.lastActivity = this.#deps.clock.now();
  }

  end(session: DatagramSession, reason: EndReason): void {
    this.#deps.table.end(session, reason);
  }

  #release(session: DatagramSession, reason: EndReason): void {
    this.#deps.logger.debug({ event: 'datagram-session-released', session: session.id, reason }, 'relay UDP session released');
    // A peer still waiting for its partner learns why its attach failed, as over the TCP relay.
    const farewell = session.paired ? UDP_CLOSE : encodeUdpReply(reason === 'peer-timeout' ? AttachStatus.PeerTimeout : AttachStatus.SessionClosed);
    for (const peer of session.link?.peers ?? []) peer?.endpoint.release(farewell);
  }
}
