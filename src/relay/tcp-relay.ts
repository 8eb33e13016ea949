import net from 'node:net';
import { AttachStatus } from './errors.js';
import { AttachListener } from './attach-listener.js';
import { encodeTcpReply, parseTcpAttach, TCP_ATTACH_HEADER_LENGTH, MAX_TOKEN_LENGTH } from './attach-protocol.js';
import type { EndReason, RelaySession } from './session-table.js';
import { jsSpliceEngine, type SpliceEngine, type SpliceHandle } from './splice.js';
import type { RelayDeps } from './relay-deps.js';

const MAX_ATTACH_FRAME = TCP_ATTACH_HEADER_LENGTH + MAX_TOKEN_LENGTH;
/** Keepalive probes find peers that vanished without a FIN or RST (power loss, NAT drop). */
const KEEPALIVE_DELAY_MS = 30_000;
/** Bytes a waiting peer may send before its partner attaches; then it is paused. */
const MAX_EARLY_BYTES = 64 * 1024;

interface TcpLink {
  sockets: [net.Socket | undefined, net.Socket | undefined];
  /** Bytes a peer sent right behind its attach frame, relayed first once paired. */
  early: [Buffer | undefined, Buffer | undefined];
  /** Removes the listeners a waiting peer's socket has before it is spliced. */
  detach: [(() => void) | undefined, (() => void) | undefined];
  spliced: boolean;
  /** Ends the splice (both peers) when the session ends from outside: idle, relay closed. */
  splice: SpliceHandle | undefined;
}

/** The relay's TCP side: attach handshakes, pairing, and splicing the two peers' sockets. */
export class TcpRelay {
  readonly #listener: AttachListener;
  readonly #deps: RelayDeps;
  readonly #engine: SpliceEngine;
  /** Used for a session the kernel engine could not take over. */
  readonly #fallback: SpliceEngine;

  constructor(deps: RelayDeps, engine: SpliceEngine = jsSpliceEngine(deps.clock)) {
    this.#deps = deps;
    this.#engine = engine;
    this.#fallback = engine.name === 'js' ? engine : jsSpliceEngine(deps.clock);
    this.#listener = new AttachListener(deps, {
      name: 'tcp',
      server: { allowHalfOpen: true, pauseOnConnect: true },
      refuse: (socket, status) => this.#refuse(socket, status),
      admit: (socket, endHandshake) => this.#readAttach(socket, endHandshake),
    });
    deps.table.onTransportEnd('tcp', (session, reason) => this.#release(session as RelaySession<TcpLink>, reason));
  }

  listen(host: string, port: number): Promise<number> {
    return this.#listener.listen(host, port);
  }

  close(): Promise<void> {
    return this.#listener.close();
  }

  #readAttach(socket: net.Socket, endHandshake: () => void): void {
    const { logger, counters } = this.#deps;
    const source = socket.remoteAddress ?? 'unknown';
    let received = Buffer.alloc(0);
    const finish = (): void => {
      endHandshake();
      socket.off('data', onData);
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseTcpAttach(received.subarray(0, MAX_ATTACH_FRAME));
      if (parsed.kind === 'incomplete') return;
      finish();
      socket.pause();
      if (parsed.kind === 'invalid') {
        counters.increment('attach_malformed');
        logger.info({ event: 'attach-rejected', transport: 'tcp', source, reason: parsed.reason }, 'malformed relay attach');
        this.#refuse(socket, AttachStatus.BadRequest);
        return;
      }
      const rest = received.length > parsed.consumed ? received.subarray(parsed.consumed) : undefined;
      this.#attach(socket, parsed.token, rest, source);
    };
    socket.on('data', onData);
    socket.once('close', finish);
    socket.resume();
  }

  #attach(socket: net.Socket, token: string, early: Buffer | undefined, source: string): void {
    const { table, logger, counters } = this.#deps;
    const claim = table.claim(token, 'tcp');
    if (claim.status !== AttachStatus.Ok) {
      counters.increment('attach_rejected');
      logger.info({ event: 'attach-rejected', transport: 'tcp', source, status: claim.status }, 'relay attach rejected');
      this.#refuse(socket, claim.status);
      return;
    }
    const session = claim.session as RelaySession<TcpLink>;
    session.link ??= { sockets: [undefined, undefined], early: [undefined, undefined], detach: [undefined, undefined], spliced: false, splice: undefined };
    session.link.sockets[claim.side] = socket;
    session.link.early[claim.side] = early;
    counters.increment('attach_ok');
    logger.info({ event: 'attached', transport: 'tcp', session: session.id, side: claim.side, source }, 'peer attached to relay');
    socket.on('close', () => {
      if (!session.link?.spliced) table.end(session, 'vanished');
    });
    if (session.paired) {
      this.#pair(session);
      return;
    }
    // Keep reading while waiting so a peer that gives up is noticed; bytes it sends early are kept,
    // up to a bound, then its socket stays paused (TCP flow control does the rest).
    const onEarly = (chunk: Buffer): void => {
      const held = Buffer.concat([session.link!.early[claim.side] ?? Buffer.alloc(0), chunk]);
      session.link!.early[claim.side] = held;
      if (held.length >= MAX_EARLY_BYTES) socket.pause();
    };
    const onEnd = (): void => table.end(session, 'closed');
    socket.on('data', onEarly);
    socket.on('end', onEnd);
    session.link.detach[claim.side] = () => {
      socket.off('data', onEarly);
      socket.off('end', onEnd);
      socket.pause();
    };
    socket.resume();
  }

  #pair(session: RelaySession<TcpLink>): void {
    const { table, limits, logger, counters, clock } = this.#deps;
    const link = session.link!;
    const sockets = link.sockets as [net.Socket, net.Socket];
    link.spliced = true;
    for (const detach of link.detach) detach?.();
    const ok = encodeTcpReply(AttachStatus.Ok);
    // Each peer first gets the reply, then what the other sent early: bytes held since its attach
    // and any still in Node's read buffer (taken out here, so an engine that reads the socket
    // itself loses none).
    const heads = ([1, 0] as const).map((from) => Buffer.concat([ok, link.early[from] ?? Buffer.alloc(0), ...takeBuffered(sockets[from])])) as [Buffer, Buffer];
    for (const socket of sockets) socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    const rate = { bytesPerSecond: limits.bytesPerSecond, burstBytes: limits.burstBytes };
    const hooks = {
      onBytes: (bytes: number) => {
        session.lastActivity = clock.now();
        counters.increment('tcp_bytes_relayed', bytes);
      },
      onClosed: (outcome: 'closed' | 'vanished', error?: Error) => {
        if (outcome === 'vanished') counters.increment('tcp_peers_vanished');
        logger.debug({ event: 'splice-closed', session: session.id, outcome, err: error?.message }, 'relay splice closed');
        table.end(session, outcome);
      },
    };
    try {
      link.splice = this.#engine.splice(sockets, heads, rate, hooks);
    } catch (error) {
      counters.increment('tcp_splice_fallbacks');
      logger.warn({ event: 'splice-fallback', session: session.id, engine: this.#engine.name, err: error }, 'relay session uses the JS splice');
      link.splice = this.#fallback.splice(sockets, heads, rate, hooks);
    }
    logger.info({ event: 'session-active', transport: 'tcp', session: session.id }, 'relay session active');
  }

  #release(session: RelaySession<TcpLink>, reason: EndReason): void {
    const link = session.link;
    if (!link) return;
    const status = reason === 'peer-timeout' ? AttachStatus.PeerTimeout : AttachStatus.SessionClosed;
    if (link.spliced) {
      link.splice?.abort();
      return;
    }
    for (const socket of link.sockets) {
      if (socket && !socket.destroyed) this.#refuse(socket, status);
    }
  }

  #refuse(socket: net.Socket, status: AttachStatus): void {
    if (socket.destroyed) return;
    socket.end(encodeTcpReply(status));
    // Read and drop whatever still comes so the client's close is seen; a client that never
    // closes must not hold the socket open either.
    socket.removeAllListeners('data');
    socket.resume();
    socket.setTimeout(this.#deps.limits.handshakeTimeoutMs, () => socket.destroy());
  }
}

/** Empties a paused socket's read buffer (bytes Node read but nobody consumed yet). */
function takeBuffered(socket: net.Socket): Buffer[] {
  const chunks: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) chunks.push(chunk);
  return chunks;
}
