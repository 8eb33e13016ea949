export * from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './observe/logger.js';
export { Counters } from './observe/counters.js';
export * from './codec/index.js';
export {
  startBroker, BrokerClient, queryBroker, planStart, peerIdProblem, DEFAULT_BROKER_PORT, PROTOCOL_VERSION as BROKER_PROTOCOL_VERSION,
  BrokerError, MatchError, DuplicateIdError, VersionError, InvalidIdError, BadMessageError, FrameTooLargeError, RateLimitError,
  LimitError, BusyError, NotRegisteredError, UnauthorizedError, UnknownConnectionError, BrokerConnectError, DisconnectedError,
  ClientClosedError,
  type Broker, type BrokerOptions, type BrokerClientOptions, type Coordination, type ConnectRequestOptions, type SignalEvent,
  type RelayRegistry, type Candidate as BrokerCandidate, type PeerInfo, type PeerState, type MatchReason,
} from './broker/index.js';
