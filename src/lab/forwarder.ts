import type { Logger } from '../observe/logger.js';
import { LabNativeError } from './errors.js';
import type { PlannedLink } from './topology.js';

export interface Forwarder {
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startForwarder(_links: readonly PlannedLink[], _options: { timeoutMs: number; logger: Logger }): Promise<Forwarder> {
  throw new LabNativeError('shaped links (delay, jitter, loss) are not available yet');
}
