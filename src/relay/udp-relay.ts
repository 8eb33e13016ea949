import dgram from 'node:dgram';
import { AttachStatus } from './errors.js';
import { encodeUdpReply, parseUdp, UdpType } from './attach-protocol.js';
import type { Side } from './session-table.js';
import type { DatagramEndpoint, DatagramSession, DatagramSessions } from './datagram-sessions.js';
import type { RelayDeps } from './relay-deps.js';

interface Binding {
  session: DatagramSession;
  side: Side;
  endpoint: DatagramEndpoint;
}

/**
 * The relay's UDP side: an attach datagram binds its sender's address to one side of a session;
 * DATA datagrams from a bound address go to the other side unchanged (type byte included, so
 * nothing is copied), over UDP or framed on that peer's TCP attachment. Datagrams from unbound
 * addresses are dropped without an answer.
 */
export class UdpRelay {
  readonly #socket: dgram.Socket;
  readonly #deps: RelayDeps;
  readonly #sessions: DatagramSessions;
  readonly #bindings = new Map<string, Binding>();

  constructor(deps: RelayDeps, sessions: DatagramSessions, type: 'udp4' | 'udp6') {
    this.#deps = deps;
    this.#sessions = sessions;
    this.#socket = dgram.createSocket({ type });
    this.#socket.on('message', (message, rinfo) => this.#receive(message, rinfo));
    this.#socket.on('error', (error) => deps.logger.error({ event: 'udp-socket-error', err: error }, 'relay UDP socket error'));
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
    const key = `udp|${rinfo.address}|${rinfo.port}`;
    const parsed = parseUdp(message);
    const binding = this.#bindings.get(key);
    switch (parsed.type) {
      case UdpType.Data:
        if (binding) this.#sessions.forward(binding.session, binding.side, message);
        else this.#deps.counters.increment('udp_datagrams_dropped');
        return;
      case UdpType.Keepalive:
        if (binding) this.#sessions.touch(binding.session);
        return;
      case UdpType.Close:
        if (binding) this.#sessions.end(binding.session, 'closed');
        return;
      case UdpType.Attach:
        this.#attach(parsed.token, rinfo, key);
        return;
      default:
        this.#deps.counters.increment('udp_datagrams_dropped');
    }
  }

  #attach(token: string, rinfo: dgram.RemoteInfo, key: string): void {
    const { table, rateLimiter, logger, counters } = this.#deps;
    // Unanswered when over the rate: a flood gets nothing back to amplify.
    if (!rateLimiter.allow(rinfo.address)) {
      counters.increment('attach_rate_limited');
      return;
    }
    const claim = table.claim(token, 'udp');
    if (claim.status !== AttachStatus.Ok) {
      counters.increment('attach_rejected');
      logger.info({ event: 'attach-rejected', transport: 'udp', source: key, status: claim.status }, 'relay attach rejected');
      this.#send(encodeUdpReply(claim.status), rinfo.port, rinfo.address);
      return;
    }
    const displaced = this.#bindings.get(key);
    if (displaced && displaced.session !== claim.session) this.#sessions.end(displaced.session, 'closed');
    const endpoint = this.#bindings.get(key)?.endpoint ?? this.#endpoint(key, rinfo.address, rinfo.port);
    const session = this.#sessions.attach(claim, endpoint, key);
    if (this.#sessions.holds(session, claim.side, endpoint)) this.#bindings.set(key, { session, side: claim.side, endpoint });
  }

  #endpoint(key: string, address: string, port: number): DatagramEndpoint {
    const endpoint: DatagramEndpoint = {
      key,
      transport: 'udp',
      deliver: (datagram) => this.#send(datagram, port, address),
      release: (farewell) => {
        if (this.#bindings.get(key)?.endpoint === endpoint) this.#bindings.delete(key);
        if (farewell) this.#send(farewell, port, address);
      },
    };
    return endpoint;
  }

  #send(bytes: Buffer, port: number, address: string): void {
    this.#socket.send(bytes, port, address, (error) => {
      if (error) this.#deps.logger.debug({ event: 'udp-send-failed', to: `${address}:${port}`, err: error.message }, 'relay UDP send failed');
    });
  }
}
