import net from 'node:net';
import { AttachStatus } from './errors.js';
import type { RelayDeps } from './relay-deps.js';

export interface AttachListenerOptions {
  /** Names the listener's log events (`<name>-server-error`, `<name>-socket-error`). */
  name: string;
  server?: net.ServerOpts;
  /** Answers a connection that is not let in (rate limit, handshake deadline) and closes it. */
  refuse(socket: net.Socket, status: AttachStatus): void;
  /**
   * A connection let in: read its attach, then call `endHandshake` (also called for you on close),
   * which stops its deadline and frees its pending-handshake slot.
   */
  admit(socket: net.Socket, endHandshake: () => void): void;
}

/**
 * The TCP front door both TCP-facing parts of the relay share (stream attaches, and datagram
 * attaches for UDP-blocked peers): it lets a connection in only while pending handshakes are
 * under `maxHandshakes` and its source address is under the attach rate, gives its attach
 * `handshakeTimeoutMs`, and destroys every socket it accepted when the relay closes.
 */
export class AttachListener {
  readonly #server: net.Server;
  readonly #deps: RelayDeps;
  readonly #options: AttachListenerOptions;
  readonly #handshakes = new Set<net.Socket>();
  readonly #sockets = new Set<net.Socket>();

  constructor(deps: RelayDeps, options: AttachListenerOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#server = net.createServer(options.server ?? {}, (socket) => this.#accept(socket));
    this.#server.on('error', (error) => deps.logger.error({ event: `${options.name}-server-error`, err: error }, 'relay listener error'));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    return closed;
  }

  #accept(socket: net.Socket): void {
    const { limits, rateLimiter, logger, counters } = this.#deps;
    const { name, refuse, admit } = this.#options;
    const source = socket.remoteAddress ?? 'unknown';
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', (error) => logger.debug({ event: `${name}-socket-error`, source, err: error.message }, 'relay socket error'));
    if (this.#handshakes.size >= limits.maxHandshakes) {
      counters.increment('tcp_handshakes_refused');
      socket.destroy();
      return;
    }
    if (!rateLimiter.allow(source)) {
      counters.increment('attach_rate_limited');
      refuse(socket, AttachStatus.RateLimited);
      return;
    }
    this.#handshakes.add(socket);
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      counters.increment('attach_timeouts');
      refuse(socket, AttachStatus.BadRequest);
    }, limits.handshakeTimeoutMs);
    const endHandshake = (): void => {
      clearTimeout(timer);
      this.#handshakes.delete(socket);
    };
    socket.once('close', endHandshake);
    admit(socket, endHandshake);
  }
}
