import { punchTcp } from '../../punch/tcp/index.js';
import { punchCandidates } from '../candidates.js';
import { remoteProfile } from '../remote-profile.js';
import { signalChannel } from '../signal-channel.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * Direct TCP: the TCP punch engine takes a fresh port (probing its mapping), runs the stages the
 * planner picks for the two profiles (direct, LAN, simultaneous open, STUNT #2, prediction) and
 * resolves with a stream that passed the per-connection handshake.
 */
export const tcpPath: PathStrategy = {
  name: 'tcp',
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    const profile = remoteProfile(coordination.peer.profile);
    const result = await punchTcp({
      role: coordination.role,
      connectionId: coordination.connectionId,
      secret: coordination.secret,
      local: { profile: context.profile },
      remote: { candidates: punchCandidates(coordination.candidates), ...(profile ? { profile } : {}) },
      startAt: context.startAt,
      signal: context.signal,
      timeoutMs: context.timeoutMs,
      signaling: signalChannel(context.broker, coordination.connectionId, context.logger),
      stunServer: context.stunServer,
      logger: context.logger,
      origin: context.origin,
    });
    return { transport: 'tcp', socket: result.socket, method: result.method, attempts: result.attempts, timeline: result.timeline };
  },
};
