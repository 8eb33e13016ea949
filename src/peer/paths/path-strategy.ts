import type net from 'node:net';
import type { BrokerClient, Coordination } from '../../broker/index.js';
import type { NatProfile } from '../../discovery/index.js';
import type { Logger } from '../../observe/logger.js';
import type { HostPort } from '../../stun/index.js';
import type { UdpConnectionOptions } from '../../punch/udp/index.js';
import type { DatagramConnection } from '../path.js';
import type { UdpSocketPool } from '../udp-socket-pool.js';
import type { TcpPunchPortKeeper } from '../tcp-punch-port.js';
import type { SignalChannel } from '../signal-channel.js';

/** Everything a path strategy may use for one coordination. */
export interface PathContext {
  coordination: Coordination;
  /** `performance.now()` time of the broker's synchronised start, taken when the coordination arrived. */
  startAt: number;
  /** `performance.now()` time of the `connect` call (initiator) or of the coordination's arrival (responder). */
  origin: number;
  broker: BrokerClient;
  /** This coordination's signals through the broker, every one since the coordination arrived. */
  signals: SignalChannel;
  stunServer: HostPort;
  profile: NatProfile;
  /** This host's addresses offered to a peer behind the same NAT. */
  hostAddresses: readonly string[];
  udpSockets: UdpSocketPool;
  /** The ready TCP punching port (only behind no NAT or a cone NAT). */
  tcpPorts?: TcpPunchPortKeeper;
  udpConnection?: UdpConnectionOptions;
  timeoutMs: number;
  signal: AbortSignal;
  logger: Logger;
}

/**
 * A verified connection to the peer, as one strategy made it. `commit`, when present, tells the
 * peer that the initiator keeps this path (strategies whose responder waits for that choice).
 */
export type Established = (
  | { transport: 'tcp'; socket: net.Socket; method: string; commit?: () => void }
  | { transport: 'udp'; connection: DatagramConnection; method: string; commit?: () => void }
) & {
  /** TCP: connects made (the winning one included). */
  attempts?: number;
  /** ms from `origin` to each step of the engine that made the path. */
  timeline?: Readonly<Record<string, number>>;
};

/**
 * One way of reaching the peer. Implementations verify the peer (per-connection secret) before
 * resolving, release everything they opened when they reject, and reject with typed errors.
 */
export interface PathStrategy {
  readonly name: string;
  /** A relay that needs no session from the broker (TURN): offered whenever the dialler allows a relay. @default false */
  readonly standalone?: boolean;
  establish(context: PathContext): Promise<Established>;
  /**
   * Direct strategies: ms from the synchronised start until the stage expected to connect these
   * two peers ends (the relay deadline waits for it, bounded). @default unknown: relayDeadlineMs alone
   */
  plannedMs?(context: PathContext): number | undefined;
  /**
   * Direct strategies: how long a relay attempt run in parallel must wait before it opens a
   * mapping on this host's NAT (a sequential NAT's prediction counts every new mapping, and the
   * relay's would take the predicted port). The relay starts at once when direct fails. @default 0
   */
  relayHoldMs?(context: PathContext): number;
}
