/** Bounds of one relay server. Every field has a default; callers pass only what they change. */
export interface RelayLimits {
  /** Sessions held at once (pending or active). @default 10000 */
  maxSessions: number;
  /** How long a fresh session waits for its first peer before both tokens expire. @default 60000 */
  tokenTtlMs: number;
  /** How long one attached peer waits for the other (half-attached time). @default 30000 */
  pendingTimeoutMs: number;
  /** An active session with no traffic either way for this long is ended. @default 120000 */
  idleTimeoutMs: number;
  /** Sustained bytes per second relayed from each peer (token bucket). @default 16777216 (16 MiB/s) */
  bytesPerSecond: number;
  /** Bucket size: the most a peer may send at once above the sustained rate. @default bytesPerSecond */
  burstBytes: number;
  /** Attach attempts per second per source IP address. @default 10 */
  attachesPerSecond: number;
  /** Attach attempts a source may make at once above that rate. @default 20 */
  attachBurst: number;
  /** Source addresses tracked by the attach rate limiter. @default 10000 */
  maxTrackedSources: number;
  /** TCP connections that have not finished their attach frame. @default 1024 */
  maxHandshakes: number;
  /** Time a TCP connection gets to send its attach frame. @default 10000 */
  handshakeTimeoutMs: number;
}

export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxSessions: 10_000,
  tokenTtlMs: 60_000,
  pendingTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  bytesPerSecond: 16 * 1024 * 1024,
  burstBytes: 16 * 1024 * 1024,
  attachesPerSecond: 10,
  attachBurst: 20,
  maxTrackedSources: 10_000,
  maxHandshakes: 1024,
  handshakeTimeoutMs: 10_000,
});

export function resolveLimits(limits: Partial<RelayLimits> = {}): RelayLimits {
  const resolved = { ...DEFAULT_RELAY_LIMITS, ...limits };
  if (limits.burstBytes === undefined && limits.bytesPerSecond !== undefined) resolved.burstBytes = limits.bytesPerSecond;
  return resolved;
}
