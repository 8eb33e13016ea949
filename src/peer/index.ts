export {
  Peer, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_INCOMING_TIMEOUT_MS, DEFAULT_PROBE_TIMEOUT_MS, MAX_INCOMING_IN_PROGRESS,
  type PeerRegisterOptions, type PeerComponents, type ConnectOptions, type PeerEvents,
} from './peer.js';
export { pathOf, type ConnectionPath, type DatagramConnection, type IncomingConnection } from './path.js';
export { parseServerAddress, toServerAddress, type ServerAddress, type ServerAddressOptions } from './server-address.js';
export { establishPath, DEFAULT_RELAY_DEADLINE_MS, RELAY_MODES, type RelayMode, type PathChoice } from './paths/establish.js';
export type { PathStrategy, PathContext, Established } from './paths/path-strategy.js';
export { udpPath } from './paths/udp-path.js';
export { tcpPath } from './paths/tcp-path.js';
export { relayTcpPath } from './paths/relay-tcp-path.js';
export { relayUdpPath } from './paths/relay-udp-path.js';
export { RelayedDatagrams } from './paths/relayed-datagrams.js';
export { ProbeError, PeerClosedError, RelayUnavailableError, UdpBlockedError } from './errors.js';
export { turnPaths } from './paths/turn-paths.js';
export { turnTcpPath } from './paths/turn-tcp-path.js';
export { turnUdpPath } from './paths/turn-udp-path.js';
export { turnSettings, type TurnOption, type TurnSettings, type TurnTlsTrust } from './paths/turn-config.js';
export { parseTurnUrl, DEFAULT_TURN_PORT, DEFAULT_TURNS_PORT, type TurnUrl } from './paths/turn-url.js';
export { TurnUrlError, TurnPeerFailedError } from './paths/turn-errors.js';
