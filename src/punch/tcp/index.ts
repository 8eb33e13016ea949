export { punchTcp, DEFAULT_PUNCH_TIMEOUT_MS, KEEPALIVE_INITIAL_DELAY_MS } from './punch-tcp.js';
export { SIMULTANEOUS_OPEN_ROUND_MS, GRID_VERNIER_MS } from './grid.js';
export type { PunchTcpOptions, PunchTcpResult, TcpEndpoint } from './punch-tcp.js';
export { planTcp, natViewOf, stageOffsets } from './planner.js';
export type { TcpMethod, TcpNatView, TcpPlan, TcpStage, TcpTechnique, PunchRole } from './planner.js';
export { verifyStream, selectStream, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js';
export { TcpPunchFailedError, TcpVerificationError, type TcpPunchAttempt } from './errors.js';
export { TCP_SIGNAL_TAG, type SignalChannel } from './signals.js';
