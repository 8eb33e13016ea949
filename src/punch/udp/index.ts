export { punchUdp } from './punch.js';
export { DEFAULT_PUNCH_TIMEOUT_MS, type PunchUdpOptions, type PunchUdpComponents } from './options.js';
export {
  UdpConnection,
  maxDatagramSize,
  KEEPALIVE_INTERVAL_MS,
  IDLE_TIMEOUT_MS,
  DEFAULT_PATH_MTU,
  type UdpConnectionOptions,
  type UdpMethod,
  type CloseReason,
} from './connection.js';
export { planUdp, classifyNat, classifyFiltering, type UdpPlan, type UdpStrategy, type PunchProfile, type NatClass } from './planner.js';
export { LATE_CANDIDATES_TYPE, lateCandidates, parseLateCandidates, type SignalChannel, type LateCandidates } from './signaling.js';
export { Verifier } from './verify.js';
export { UdpPunchFailedError, DatagramTooLargeError, ConnectionClosedError, type UdpPunchAttempt } from './errors.js';
export type { PunchRole } from './wire.js';
