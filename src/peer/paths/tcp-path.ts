import { natViewOf, planTcp, punchTcp } from '../../punch/tcp/index.js';
import { tcpPunchCandidates } from '../candidates.js';
import { remoteProfile } from '../remote-profile.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * Direct TCP: the TCP punch engine runs the stages the planner picks for the two profiles
 * (direct, LAN, simultaneous open, STUNT #2, prediction) and resolves with a stream that passed
 * the per-connection handshake. A side whose ready punching port the broker handed out punches
 * from it (its mapping is known to both); a side without one takes a fresh port, probes its
 * mapping and announces it through signaling first.
 */
export const tcpPath: PathStrategy = {
  name: 'tcp',
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    const profile = remoteProfile(coordination.peer.profile);
    const own = coordination.punchPorts?.own;
    const peerPort = coordination.punchPorts?.peer;
    const ready = own ? context.tcpPorts?.use(own.hostPort) : undefined;
    const result = await punchTcp({
      role: coordination.role,
      connectionId: coordination.connectionId,
      secret: coordination.secret,
      local: {
        profile: context.profile,
        ...(own ? { port: own.hostPort, mapped: { address: own.address, port: own.port } } : {}),
        ...(ready ? { address: ready.localAddress, rttMs: ready.rttMs } : {}),
      },
      remote: { candidates: tcpPunchCandidates(coordination.candidates, peerPort), announcesPort: peerPort === undefined, ...(profile ? { profile } : {}) },
      startAt: context.startAt,
      signal: context.signal,
      timeoutMs: context.timeoutMs,
      signaling: context.signals,
      stunServer: context.stunServer,
      logger: context.logger,
      origin: context.origin,
    });
    return { transport: 'tcp', socket: result.socket, method: result.method, attempts: result.attempts, timeline: result.timeline };
  },
  /** The first stage of the plan both engines will run (as the engine builds it from the two profiles). */
  plannedMs(context: PathContext): number | undefined {
    const { coordination } = context;
    const candidates = tcpPunchCandidates(coordination.candidates, coordination.punchPorts?.peer);
    const local = natViewOf(context.profile);
    const remote = natViewOf(remoteProfile(coordination.peer.profile), candidates.find((candidate) => candidate.kind === 'srflx')?.address);
    const plan = coordination.role === 'initiator' ? planTcp(local, remote) : planTcp(remote, local);
    return plan.stages[0]?.durationMs;
  },
};
