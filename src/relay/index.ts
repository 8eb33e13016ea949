export { startRelay, Relay, DEFAULT_RELAY_PORT, type RelayOptions, type RelayComponents, type RelayEndpoints, type RelaySessionGrant, type RelayRegistry } from './relay-server.js';
export { DEFAULT_RELAY_LIMITS, type RelayLimits } from './limits.js';
export { parseRelayEndpoints } from './endpoints.js';
export { attachTcp, type AttachTcpOptions } from './relay-client-tcp.js';
export { attachUdp, RelayUdpChannel, type AttachUdpOptions, type AttachUdpComponents, type RelayUdpChannelEvents } from './relay-client-udp.js';
export { AttachStatus, RelayAttachError, RelayCapacityError, RelayClosedError } from './errors.js';
export * from './turn/index.js';
