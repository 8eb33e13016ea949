import type { Logger } from '../observe/logger.js';
import type { Counters } from '../observe/counters.js';
import type { Clock } from '../util/clock.js';
import type { SourceRateLimiter } from '../util/token-bucket.js';
import type { RelayLimits } from './limits.js';
import type { SessionTable } from './session-table.js';

/** What the relay's TCP and UDP sides share: one session table, one limiter, one set of bounds. */
export interface RelayDeps {
  table: SessionTable;
  limits: RelayLimits;
  rateLimiter: SourceRateLimiter;
  logger: Logger;
  counters: Counters;
  clock: Clock;
}
