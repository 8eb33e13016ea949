import { NtcpError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { DEFAULT_ATTACH_TIMEOUT_MS } from './relay-client-tcp.js';
import { attachDatagramTcp, type RelayTcpDatagramChannel } from './relay-client-datagram-tcp.js';
import { attachUdp, type RelayUdpChannel } from './relay-client-udp.js';
import type { RelayEndpoints } from './relay-server.js';

/** How long UDP attach datagrams may go unanswered before the TCP attachment is tried (four 250 ms retransmissions). */
export const DEFAULT_UDP_ANSWER_TIMEOUT_MS = 1_000;

export interface AttachDatagramsOptions {
  endpoints: RelayEndpoints;
  token: string;
  /** This host's UDP is known blocked (its NAT profile says so): attach over TCP at once. @default false */
  udpBlocked?: boolean;
  /** With UDP tried first: switch to TCP when the relay answered no UDP attach in this time. @default 1000 */
  udpAnswerTimeoutMs?: number;
  signal?: AbortSignal;
  /** Covers both attempts and waiting for the other peer. @default 30000 */
  timeoutMs?: number;
  /** Path MTU toward the relay; bounds `maxDatagramSize` on either attachment. @default 1280 */
  pathMtu?: number;
}

export interface AttachDatagramsComponents {
  /** @default silentLogger */
  logger?: Logger;
}

export type RelayDatagramChannel = RelayUdpChannel | RelayTcpDatagramChannel;

/**
 * Attaches this peer to a relayed UDP session the way its network allows:
 * 1. UDP known blocked (and the relay offers `datagramTcpPort`): over TCP, at once;
 * 2. otherwise over UDP; when the relay answered none of the attach datagrams within
 *    `udpAnswerTimeoutMs`, over TCP with the same token (a UDP attach that reached the relay but
 *    whose answers were lost is replaced by the TCP one);
 * 3. a relay without `datagramTcpPort` gets UDP only, as before.
 * The other peer may attach either way; the relay bridges them.
 */
export async function attachDatagrams(options: AttachDatagramsOptions, components: AttachDatagramsComponents = {}): Promise<RelayDatagramChannel> {
  const { endpoints, token, signal } = options;
  const logger = components.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS;
  const overTcp = endpoints.datagramTcpPort ? endpoints.datagramTcpPort : undefined;
  const startedAt = performance.now();
  const remaining = (): number => Math.max(1, timeoutMs - (performance.now() - startedAt));
  const tcp = (port: number): Promise<RelayTcpDatagramChannel> => attachDatagramTcp(
    { host: endpoints.host, port, token, ...(signal ? { signal } : {}), timeoutMs: remaining(), ...(options.pathMtu ? { pathMtu: options.pathMtu } : {}) },
    { logger },
  );
  if (options.udpBlocked && overTcp) return tcp(overTcp);
  try {
    return await attachUdp({
      host: endpoints.host, port: endpoints.udpPort, token, ...(signal ? { signal } : {}), timeoutMs: remaining(),
      ...(overTcp ? { answerTimeoutMs: options.udpAnswerTimeoutMs ?? DEFAULT_UDP_ANSWER_TIMEOUT_MS } : {}),
      ...(options.pathMtu ? { pathMtu: options.pathMtu } : {}),
    }, { logger });
  } catch (error) {
    if (!overTcp || !(error instanceof NtcpError) || error.code !== 'ERR_RELAY_UDP_UNANSWERED') throw error;
    logger.info({ event: 'relay-udp-unanswered', err: error.message }, 'relay did not answer over UDP: attaching over TCP');
    return tcp(overTcp);
  }
}
