import net from 'node:net';
import { AttachStatus } from './errors.js';
import { AttachListener } from './attach-listener.js';
import { encodeUdpReply, parseUdp, UdpType } from './attach-protocol.js';
import { DatagramFrameReader, encodeDatagramFrame, MAX_DATAGRAM_FRAME_BODY } from './datagram-frames.js';
import type { DatagramEndpoint, DatagramSession, DatagramSessions } from './datagram-sessions.js';
import type { Side } from './session-table.js';
import type { RelayDeps } from './relay-deps.js';

/** Keepalive probes find peers that vanished without a FIN or RST (power loss, NAT drop). */
const KEEPALIVE_DELAY_MS = 30_000;
/**
 * Bytes queued toward a TCP-attached peer beyond which its datagrams are dropped, as a full UDP
 * queue would: a slow reader costs the relay this much memory at most, not an unbounded backlog.
 */
export const MAX_QUEUED_DATAGRAM_BYTES = 256 * 1024;

interface Attachment {
  session: DatagramSession;
  side: Side;
  endpoint: DatagramEndpoint;
}

/**
 * The relay's UDP sessions for peers whose UDP is blocked: each TCP connection attaches one peer
 * with a framed ATTACH (datagram-frames.ts), then carries that peer's datagrams as frames. The
 * session is the same one a UDP peer attaches to; DatagramSessions bridges the two. A bad frame
 * (oversize, empty, unknown type, a second attach) closes that connection only.
 */
export class DatagramTcpRelay {
  readonly #listener: AttachListener;
  readonly #deps: RelayDeps;
  readonly #sessions: DatagramSessions;
  #connections = 0;

  constructor(deps: RelayDeps, sessions: DatagramSessions) {
    this.#deps = deps;
    this.#sessions = sessions;
    this.#listener = new AttachListener(deps, {
      name: 'datagram-tcp',
      refuse: (socket, status) => this.#refuse(socket, status),
      admit: (socket, endHandshake) => this.#readFrames(socket, endHandshake),
    });
  }

  listen(host: string, port: number): Promise<number> {
    return this.#listener.listen(host, port);
  }

  close(): Promise<void> {
    return this.#listener.close();
  }

  #readFrames(socket: net.Socket, endHandshake: () => void): void {
    const source = `${socket.remoteAddress ?? 'unknown'}|${socket.remotePort ?? 0}`;
    const reader = new DatagramFrameReader();
    let attachment: Attachment | undefined;
    const key = `tcp|${source}|${++this.#connections}`;
    const onData = (chunk: Buffer): void => {
      for (const read of reader.push(chunk)) {
        if (socket.destroyed || socket.writableEnded) return;
        if (read.kind === 'invalid') {
          this.#malformed(socket, attachment, source, read.reason);
          return;
        }
        if (attachment) {
          this.#relay(socket, attachment, read.body, source);
          continue;
        }
        const parsed = parseUdp(read.body);
        endHandshake();
        if (parsed.type !== UdpType.Attach) {
          this.#malformed(socket, undefined, source, 'the first frame is not an attach');
          return;
        }
        attachment = this.#attach(socket, parsed.token, key, source);
      }
    };
    socket.on('data', onData);
    socket.on('end', () => {
      if (attachment && this.#sessions.holds(attachment.session, attachment.side, attachment.endpoint)) this.#sessions.end(attachment.session, 'closed');
    });
    socket.on('close', () => {
      if (attachment && this.#sessions.holds(attachment.session, attachment.side, attachment.endpoint)) this.#sessions.end(attachment.session, 'vanished');
    });
  }

  #attach(socket: net.Socket, token: string, key: string, source: string): Attachment | undefined {
    const { table, logger, counters } = this.#deps;
    const claim = table.claim(token, 'udp');
    if (claim.status !== AttachStatus.Ok) {
      counters.increment('attach_rejected');
      logger.info({ event: 'attach-rejected', transport: 'udp', via: 'tcp', source, status: claim.status }, 'relay attach rejected');
      this.#refuse(socket, claim.status);
      return undefined;
    }
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    const endpoint = this.#endpoint(socket, key);
    const session = this.#sessions.attach(claim, endpoint, source);
    return { session, side: claim.side, endpoint };
  }

  /** One frame from an attached peer. */
  #relay(socket: net.Socket, attachment: Attachment, body: Buffer, source: string): void {
    const { session, side, endpoint } = attachment;
    if (!this.#sessions.holds(session, side, endpoint)) return;
    const parsed = parseUdp(body);
    switch (parsed.type) {
      case UdpType.Data:
        this.#sessions.forward(session, side, body);
        return;
      case UdpType.Keepalive:
        this.#sessions.touch(session);
        return;
      case UdpType.Close:
        this.#sessions.end(session, 'closed');
        return;
      default:
        this.#malformed(socket, attachment, source, parsed.type === 'invalid' ? parsed.reason : `unexpected frame type ${parsed.type} after attach`);
    }
  }

  #endpoint(socket: net.Socket, key: string): DatagramEndpoint {
    const { counters, logger } = this.#deps;
    return {
      key,
      transport: 'tcp',
      deliver: (datagram) => {
        if (socket.destroyed || socket.writableEnded) return;
        if (datagram.length > MAX_DATAGRAM_FRAME_BODY || socket.writableLength > MAX_QUEUED_DATAGRAM_BYTES) {
          counters.increment('datagram_tcp_dropped');
          return;
        }
        socket.write(encodeDatagramFrame([datagram]));
      },
      release: (farewell) => {
        if (socket.destroyed || socket.writableEnded) return;
        logger.debug({ event: 'datagram-tcp-released', key }, 'relay datagram TCP attachment released');
        if (farewell) socket.end(encodeDatagramFrame([farewell]));
        else socket.end();
        this.#closeSoon(socket);
      },
    };
  }

  /** A frame that breaks the protocol ends this connection (and its session) only. */
  #malformed(socket: net.Socket, attachment: Attachment | undefined, source: string, reason: string): void {
    this.#deps.counters.increment('attach_malformed');
    this.#deps.logger.info({ event: 'datagram-frame-rejected', source, reason }, 'malformed relay datagram frame');
    // The reply goes first: this peer learns why (ERR_RELAY_PROTOCOL); the other one gets a CLOSE.
    this.#refuse(socket, AttachStatus.BadRequest);
    if (attachment && this.#sessions.holds(attachment.session, attachment.side, attachment.endpoint)) this.#sessions.end(attachment.session, 'closed');
  }

  #refuse(socket: net.Socket, status: AttachStatus): void {
    if (socket.destroyed) return;
    if (!socket.writableEnded) socket.end(encodeDatagramFrame([encodeUdpReply(status)]));
    this.#closeSoon(socket);
  }

  /** Reads and drops what still comes so the client's close is seen; a client that never closes is cut off. */
  #closeSoon(socket: net.Socket): void {
    socket.removeAllListeners('data');
    socket.resume();
    socket.setTimeout(this.#deps.limits.handshakeTimeoutMs, () => socket.destroy());
  }
}
