import dgram from 'node:dgram';
import { AttachStatus } from './errors.js';
import { encodeUdpReply, parseUdp, UDP_CLOSE, UdpType } from './attach-protocol.js';
import type { RelaySession, Side } from './session-table.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { RelayDeps } from './relay-deps.js';

interface UdpPeer {
  address: string;
  port: number;
  key: string;
  bucket: TokenBucket;
}

interface UdpLink {
  peers: [UdpPeer | undefined, UdpPeer | undefined];
}

interface Binding {
  session: RelaySession<UdpLink>;
  side: Side;
}

/**
 * The relay's UDP side: an attach datagram binds its sender's address to one side of a session;
 * DATA datagrams from a bound address go to the other side unchanged (type byte included, so
 * nothing is copied). Datagrams from unbound addresses are dropped without an answer.
 */
export class UdpRelay {
  readonly #socket: dgram.Socket;
  readonly #deps: RelayDeps;
  readonly #bindings = new Map<string, Binding>();

  constructor(deps: RelayDeps, type: 'udp4' | 'udp6') {
    this.#deps = deps;
    this.#socket = dgram.createSocket({ type });
    this.#socket.on('message', (message, rinfo) => this.#receive(message, rinfo));
    this.#socket.on('error', (error) => deps.logger.error({ event: 'udp-socket-error', err: error }, 'relay UDP socket error'));
    deps.table.onTransportEnd('udp', (session) => this.#release(session as RelaySession<UdpLink>));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.bind({ address: host, port }, () => {
        this.#socket.off('error', reject);
        resolve(this.#socket.address().port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #receive(message: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    const parsed = parseUdp(message);
    switch (parsed.type) {
      case UdpType.Data:
        this.#forward(message, key);
        return;
      case UdpType.Keepalive: {
        const binding = this.#bindings.get(key);
        if (binding) binding.session.lastActivity = this.#deps.clock.now();
        return;
      }
      case UdpType.Close: {
        const binding = this.#bindings.get(key);
        if (binding) this.#deps.table.end(binding.session, 'closed');
        return;
      }
      case UdpType.Attach:
        this.#attach(parsed.token, rinfo, key);
        return;
      default:
        this.#deps.counters.increment('udp_datagrams_dropped');
    }
  }

  #forward(message: Buffer, key: string): void {
    const { counters, clock } = this.#deps;
    const binding = this.#bindings.get(key);
    const session = binding?.session;
    const to = session?.link?.peers[binding!.side === 0 ? 1 : 0];
    if (!binding || !session!.paired || !to) {
      counters.increment('udp_datagrams_dropped');
      return;
    }
    if (!session!.link!.peers[binding.side]!.bucket.tryTake(message.length - 1)) {
      counters.increment('udp_datagrams_rate_dropped');
      return;
    }
    session!.lastActivity = clock.now();
    counters.increment('udp_bytes_relayed', message.length - 1);
    this.#socket.send(message, to.port, to.address);
  }

  #attach(token: string, rinfo: dgram.RemoteInfo, key: string): void {
    const { table, limits, rateLimiter, logger, counters, clock } = this.#deps;
    // Unanswered when over the rate: a flood gets nothing back to amplify.
    if (!rateLimiter.allow(rinfo.address)) {
      counters.increment('attach_rate_limited');
      return;
    }
    const claim = table.claim(token, 'udp');
    if (claim.status !== AttachStatus.Ok) {
      counters.increment('attach_rejected');
      logger.info({ event: 'attach-rejected', transport: 'udp', source: key, status: claim.status }, 'relay attach rejected');
      this.#reply(claim.status, rinfo.port, rinfo.address);
      return;
    }
    const session = claim.session as RelaySession<UdpLink>;
    session.link ??= { peers: [undefined, undefined] };
    const previous = session.link.peers[claim.side];
    if (previous?.key !== key) {
      if (previous) {
        this.#bindings.delete(previous.key);
        logger.info({ event: 'udp-rebind', session: session.id, side: claim.side, from: previous.key, to: key }, 'relay peer address changed');
      }
      const displaced = this.#bindings.get(key);
      if (displaced && displaced.session !== session) table.end(displaced.session, 'closed');
      const bucket = previous?.bucket ?? new TokenBucket(limits.bytesPerSecond, limits.burstBytes, clock);
      session.link.peers[claim.side] = { address: rinfo.address, port: rinfo.port, key, bucket };
      this.#bindings.set(key, { session, side: claim.side });
    }
    session.lastActivity = clock.now();
    if (!claim.reattach) {
      counters.increment('attach_ok');
      logger.info({ event: 'attached', transport: 'udp', session: session.id, side: claim.side, source: key }, 'peer attached to relay');
    }
    if (!session.paired) {
      this.#reply(AttachStatus.Waiting, rinfo.port, rinfo.address);
      return;
    }
    if (!claim.reattach) logger.info({ event: 'session-active', transport: 'udp', session: session.id }, 'relay session active');
    for (const peer of session.link.peers) this.#reply(AttachStatus.Ok, peer!.port, peer!.address);
  }

  #release(session: RelaySession<UdpLink>): void {
    for (const peer of session.link?.peers ?? []) {
      if (!peer) continue;
      this.#bindings.delete(peer.key);
      this.#send(UDP_CLOSE, peer.port, peer.address);
    }
  }

  #reply(status: AttachStatus, port: number, address: string): void {
    this.#send(encodeUdpReply(status), port, address);
  }

  #send(bytes: Buffer, port: number, address: string): void {
    this.#socket.send(bytes, port, address, (error) => {
      if (error) this.#deps.logger.debug({ event: 'udp-send-failed', to: `${address}:${port}`, err: error.message }, 'relay UDP send failed');
    });
  }
}
