import type { StunUdpSocket, HostPort } from '../../stun/index.js';
import type { Logger } from '../../observe/logger.js';
import type { Candidate } from '../candidates.js';
import type { PortRange } from '../predict.js';
import type { UdpConnectionOptions } from './connection.js';
import type { PunchProfile } from './planner.js';
import type { BindSocket } from './punch-sockets.js';
import type { SignalChannel } from './signaling.js';
import type { PunchRole } from './wire.js';

/** @default timeoutMs of punchUdp: long enough for several prediction or birthday rounds. */
export const DEFAULT_PUNCH_TIMEOUT_MS = 10_000;

export interface PunchUdpOptions {
  /** Bound socket whose NAT mapping the broker advertised. punchUdp takes it over: it becomes the
   * connection's socket, or is closed when another socket wins or the punch fails. */
  socket: StunUdpSocket;
  role: PunchRole;
  connectionId: string;
  /** Per-connection secret from the broker (at least 16 bytes). */
  secret: Buffer;
  local?: { profile?: PunchProfile; candidates?: Candidate[] };
  remote: { candidates: Candidate[]; profile?: PunchProfile };
  /** performance.now() time of the first probes (the broker's synchronised start). @default now */
  startAt?: number;
  /** Both peers behind one NAT. @default derived: a local srflx address equals a remote one */
  sameNat?: boolean;
  signal?: AbortSignal;
  /** @default DEFAULT_PUNCH_TIMEOUT_MS (10 s) */
  timeoutMs?: number;
  /** Carries freshly predicted candidates to the peer; prediction is skipped without it. */
  signaling?: SignalChannel;
  logger?: Logger;
  /** STUN server for the fresh mapping probes of prediction; prediction is skipped without it. */
  stunServer?: HostPort;
  /** Ports a random NAT hands out, sampled by birthday probes. @default FULL_PORT_RANGE */
  birthdayPortRange?: PortRange;
  /** Keepalive, idle and MTU settings of the resulting connection. */
  connection?: UdpConnectionOptions;
}

/** Injected components (tests and benchmarks replace them). */
export interface PunchUdpComponents {
  /** Binds the extra sockets of prediction and birthday. @default StunUdpSocket.bind */
  bindSocket?: BindSocket;
  /** @default Math.random */
  random?: () => number;
}
