import type { Logger } from '../../observe/logger.js';
import type { ProbeScheduler } from './probe-scheduler.js';
import type { PunchLifetime } from './punch-lifetime.js';
import type { PunchSockets } from './punch-sockets.js';
import type { RemoteCandidates } from './remote-candidates.js';
import type { SignalChannel } from './signaling.js';

/** The parts of one punch that a technique (birthday, prediction) works with. */
export interface TechniqueContext {
  sockets: PunchSockets;
  scheduler: ProbeScheduler;
  remote: RemoteCandidates;
  lifetime: PunchLifetime;
  logger: Logger;
  /** performance.now() time of the technique's first round. */
  startAt: number;
  connectionId: string;
  /** Carries what the technique tells the peer; some techniques are skipped without it. */
  signaling?: SignalChannel;
}
