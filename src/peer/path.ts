import type net from 'node:net';
import type { TransportAddress } from '../codec/index.js';
import type { Role, Transport } from '../broker/index.js';
import type { EventEmitter } from 'node:events';

/**
 * How a connection was made, for people and scripts: `method` names the technique that won
 * ('lan', 'udp-punch', 'udp-predict', 'udp-birthday', 'direct', 'tcp-simultaneous', 'stunt2',
 * 'relay', ...), `elapsedMs` counts from the `connect` call (initiator) or from the broker's
 * coordination (responder) to the verified connection.
 */
export interface ConnectionPath {
  peerId: string;
  connectionId: string;
  role: Role;
  transport: Transport;
  method: string;
  elapsedMs: number;
  local: TransportAddress;
  remote: TransportAddress;
  /** Both peers are behind the same NAT (the broker saw one public address). */
  sameNat: boolean;
  /** TCP: connects the punch made, the winning one included (1 when the first SYN made it). */
  attempts?: number;
  /**
   * ms from the same origin as `elapsedMs` to each step: `coordination` (the broker's reply), then
   * the engine's (TCP: port-ready, mapping-sent, mapping-received, stage-start, first-syn,
   * tcp-connected, verified). For finding where a slow connect spent its time.
   */
  timeline?: Readonly<Record<string, number>>;
}

/**
 * What a UDP connection gives the user: a UdpConnection (direct paths), or a relayed channel of the
 * same shape. Emits 'message' (payload: Buffer) per datagram and 'close' ({ reason }) once.
 */
export interface DatagramConnection extends EventEmitter {
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  /** Largest payload `send` accepts; split larger data. */
  readonly maxDatagramSize: number;
  readonly closed: boolean;
  send(data: Buffer): void;
  /** Tells the peer the session is over and releases the socket. */
  close(): Promise<void>;
}

/** One incoming connection (XListen), as 'connection' events and the async iterator hand it out. */
export type IncomingConnection =
  | { transport: 'tcp'; socket: net.Socket; path: ConnectionPath }
  | { transport: 'udp'; connection: DatagramConnection; path: ConnectionPath };

const paths = new WeakMap<object, ConnectionPath>();

export function recordPath(connection: object, path: ConnectionPath): void {
  paths.set(connection, path);
}

/** The path a socket or UDP connection from `peer.connect` / `'connection'` took; undefined for others. */
export function pathOf(connection: net.Socket | DatagramConnection): ConnectionPath | undefined {
  return paths.get(connection);
}
