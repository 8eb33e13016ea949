import { classifyNat, punchUdp } from '../../punch/udp/index.js';
import type { Candidate } from '../../punch/candidates.js';
import { punchCandidates } from '../candidates.js';
import { remoteProfile } from '../remote-profile.js';
import { contextUdpBlocked } from './udp-blocked-rule.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * Direct UDP: the spare socket (its mapping already known) goes to the UDP punch engine with
 * this host's candidates; the engine tells the peer about them through the broker, runs every
 * strategy the two profiles allow (lan, punch, prediction, birthday) and verifies the winner.
 */
/**
 * Behind a sequential NAT the relay's UDP attach would take the port the peer predicts for us:
 * it waits this long (the relay is only taken after the relay deadline anyway, 3 s or more).
 */
export const SEQUENTIAL_RELAY_HOLD_MS = 1_500;

export const udpPath: PathStrategy = {
  name: 'udp',
  relayHoldMs(context: PathContext): number {
    return classifyNat(context.profile) === 'sequential' ? SEQUENTIAL_RELAY_HOLD_MS : 0;
  },
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    // Behind one NAT that blocks UDP, a STUN probe can only time out and a srflx candidate could
    // never work: a socket without a mapping offers its LAN (host) candidates alone.
    const lanOnly = coordination.sameNat && contextUdpBlocked(context);
    const { socket, mapped } = lanOnly ? { socket: await context.udpSockets.bindUnprobed(), mapped: undefined } : await context.udpSockets.take();
    const port = socket.local().port;
    const hosts = context.hostAddresses.map((address): Candidate => ({ kind: 'host', address, port }));
    const local = mapped === undefined ? hosts : withSrflx(hosts, { kind: 'srflx', address: mapped.address, port: mapped.port });
    const profile = remoteProfile(coordination.peer.profile);
    const connection = await punchUdp({
      socket,
      role: coordination.role,
      connectionId: coordination.connectionId,
      secret: coordination.secret,
      local: { profile: context.profile, candidates: local },
      remote: { candidates: punchCandidates(coordination.candidates), ...(profile ? { profile } : {}) },
      startAt: context.startAt,
      sameNat: coordination.sameNat,
      signal: context.signal,
      timeoutMs: context.timeoutMs,
      signaling: context.signals,
      stunServer: context.stunServer,
      logger: context.logger,
      ...(context.udpConnection ? { connection: context.udpConnection } : {}),
    });
    return { transport: 'udp', connection, method: connection.method };
  },
};

/**
 * The peer keeps the first kind it hears of for an endpoint and probes in this order. Behind a
 * NAT, host candidates go first (a LAN path beats a hairpin through the NAT); on a host without
 * NAT the srflx candidate equals a host one and goes first, so the peer still takes it as srflx
 * (host candidates are only probed behind the same NAT). Hence not normalised.
 */
function withSrflx(hosts: Candidate[], srflx: Candidate): Candidate[] {
  const withoutNat = hosts.some((host) => host.address === srflx.address && host.port === srflx.port);
  return withoutNat ? [srflx, ...hosts] : [...hosts, srflx];
}
