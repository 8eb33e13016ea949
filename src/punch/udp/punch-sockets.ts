import type { RemoteInfo } from 'node:dgram';
import { StunUdpSocket } from '../../stun/index.js';
import type { Logger } from '../../observe/logger.js';
import type { PunchLifetime } from './punch-lifetime.js';

/** The socket the broker advertised, or one bound for port prediction or the birthday technique. */
export type SocketKind = 'main' | 'predict' | 'birthday';

export interface PunchSocket {
  readonly socket: StunUdpSocket;
  readonly kind: SocketKind;
  /** Position among the punch's sockets; names a path together with the remote endpoint. */
  readonly id: number;
  readonly onMessage: (bytes: Buffer, rinfo: RemoteInfo) => void;
  readonly onError: (error: Error) => void;
}

/** A path is one of our sockets and one remote endpoint. */
export function pathKey(socket: PunchSocket, address: string, port: number): string {
  return `${socket.id}|${address}|${port}`;
}

export type BindSocket = (options: { address: string }) => Promise<StunUdpSocket>;

export interface PunchSocketsOptions {
  /** The broker-advertised socket the punch took over. */
  main: StunUdpSocket;
  bindSocket: BindSocket;
  lifetime: PunchLifetime;
  logger: Logger;
  onDatagram: (socket: PunchSocket, bytes: Buffer, rinfo: RemoteInfo) => void;
}

/**
 * Every socket the punch listens on. The winner's socket is handed to the connection; all the
 * others are closed, also those bound after the punch settled.
 */
export class PunchSockets {
  readonly #options: PunchSocketsOptions;
  readonly #all: PunchSocket[] = [];

  constructor(options: PunchSocketsOptions) {
    this.#options = options;
  }

  /** The first socket added: the broker-advertised one. */
  get main(): PunchSocket {
    return this.#all[0]!;
  }

  get all(): readonly PunchSocket[] {
    return this.#all;
  }

  /** Binds an extra socket on the main socket's address (the same interface and route). */
  bind(): Promise<StunUdpSocket> {
    return this.#options.bindSocket({ address: this.#options.main.local().address });
  }

  add(socket: StunUdpSocket, kind: SocketKind): PunchSocket {
    const entry: PunchSocket = {
      socket,
      kind,
      id: this.#all.length,
      onMessage: (bytes, rinfo) => this.#options.onDatagram(entry, bytes, rinfo),
      onError: (error) => this.#options.logger.debug({ err: error, socket: kind }, 'udp punch socket error'),
    };
    socket.on('message', entry.onMessage);
    socket.on('error', entry.onError);
    this.#all.push(entry);
    const { lifetime } = this.#options;
    if (lifetime.settled) lifetime.background('late socket release', this.#release(entry));
    return entry;
  }

  /** Stops listening on the winner's socket (the connection takes it) and closes all others. */
  handOver(winner: PunchSocket): StunUdpSocket {
    winner.socket.off('message', winner.onMessage);
    winner.socket.off('error', winner.onError);
    for (const entry of this.#all) if (entry !== winner) this.#options.lifetime.background('socket release', this.#release(entry));
    return winner.socket;
  }

  /** Closes every socket, the main one too even when the punch failed before listening on it. */
  async closeAll(): Promise<void> {
    const releases = this.#all.length > 0 ? this.#all.map((entry) => this.#release(entry)) : [this.#options.main.close()];
    const released = await Promise.allSettled(releases);
    for (const result of released) {
      if (result.status === 'rejected') this.#options.logger.debug({ err: result.reason }, 'udp punch socket close failed');
    }
  }

  async #release(entry: PunchSocket): Promise<void> {
    entry.socket.off('message', entry.onMessage);
    try {
      await entry.socket.close();
    } finally {
      entry.socket.off('error', entry.onError);
    }
  }
}
