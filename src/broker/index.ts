export {
  startBroker, type Broker, type BrokerOptions, type BrokerCounter, type BrokerQueryResult, type BrokerTlsServerOptions, type RelayRegistry,
} from './server.js';
export type { BrokerTlsOptions } from './link.js';
export {
  BrokerClient, queryBroker, type BrokerClientOptions, type BrokerClientEvents, type BrokerQueryReply, type Coordination,
  type ConnectRequestOptions, type QueryOptions, type SignalEvent,
} from './client.js';
export {
  BadMessageError, BrokerConnectError, BrokerError, BrokerTlsError, BusyError, ClientClosedError, DisconnectedError, DuplicateIdError,
  FrameTooLargeError, InvalidIdError, LimitError, MatchError, NotRegisteredError, RateLimitError, UnauthorizedError,
  UnknownConnectionError, VersionError, type MatchReason,
} from './errors.js';
export {
  DEFAULT_BROKER_PORT, FEATURE_PUNCH_PORT, MAX_ID_BYTES, PROTOCOL_VERSION, peerIdProblem, type Candidate, type CandidateAddress, type PunchPort,
  type NatProfileJson, type PeerInfo, type PeerState, type RelayInfo, type Role, type Transport, type TransportAddress,
} from './protocol.js';
export { planStart, RttEstimator, type PathDelay, type StartPlan } from './schedule.js';
