export * from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './observe/logger.js';
export { Counters } from './observe/counters.js';
export * from './codec/index.js';
export {
  udpBinding, tcpBinding, bindingRequest, bindingResult, StunUdpSocket, startStunServer, Retransmission, retransmissionSchedule,
  StunFrameDecoder, RateLimiter, ManualClock, systemClock, formatAddress, DEFAULT_STUN_PORT, DEFAULT_STUN_ALT_PORT,
  StunTimeoutError, StunErrorResponse, StunFramingError, StunBadResponseError, StunSocketClosedError,
  type BindingResult, type UdpBindingOptions, type TcpBindingOptions, type StunUdpSocketOptions, type StunRequestOptions,
  type StunTransactionResult, type StunServer, type StunServerOptions, type StunServerLimits, type StunServerEndpoints,
  type StunServerCounter, type RetransmitOptions, type Clock, type HostPort,
} from './stun/index.js';
export {
  startBroker, BrokerClient, queryBroker, planStart, peerIdProblem, DEFAULT_BROKER_PORT, PROTOCOL_VERSION as BROKER_PROTOCOL_VERSION,
  BrokerError, MatchError, DuplicateIdError, VersionError, InvalidIdError, BadMessageError, FrameTooLargeError, RateLimitError,
  LimitError, BusyError, NotRegisteredError, UnauthorizedError, UnknownConnectionError, BrokerConnectError, DisconnectedError,
  ClientClosedError,
  type Broker, type BrokerOptions, type BrokerClientOptions, type Coordination, type ConnectRequestOptions, type SignalEvent,
  type RelayRegistry, type Candidate as BrokerCandidate, type PeerInfo, type PeerState, type MatchReason,
} from './broker/index.js';
export { BrokerTlsError, type BrokerTlsOptions, type BrokerTlsServerOptions } from './broker/index.js';
export type { ServerAddressOptions } from './peer/index.js';
export {
  discoverNat, NatProfileSchema, compactProfile, NAT_PROFILE_VERSION, DEFAULT_DISCOVERY_TIMEOUT_MS, DEFAULT_DISCOVERY_TCP_TIMEOUT_MS,
  readCachedProfile, writeCachedProfile, PROFILE_CACHE_VERSION, DiscoveryResolveError,
  type DiscoverNatOptions, type DiscoveryTransport, type DiscoveryStep, type NatProfile, type UdpProfile, type TcpProfile,
  type NatBehaviour, type Rfc3489Type, type TcpMappingKind, type Hairpinning, type ProbeObservation, type Evidence,
} from './discovery/index.js';
export {
  punchUdp, UdpConnection, planUdp, classifyNat, lateCandidates, parseLateCandidates, maxDatagramSize, DEFAULT_PUNCH_TIMEOUT_MS,
  KEEPALIVE_INTERVAL_MS, IDLE_TIMEOUT_MS, DEFAULT_PATH_MTU, LATE_CANDIDATES_TYPE, UdpPunchFailedError, DatagramTooLargeError,
  ConnectionClosedError,
  type PunchUdpOptions, type PunchUdpComponents, type UdpConnectionOptions, type UdpMethod, type CloseReason, type UdpPlan,
  type UdpStrategy, type PunchProfile, type NatClass, type SignalChannel, type LateCandidates, type UdpPunchAttempt, type PunchRole,
} from './punch/udp/index.js';
export {
  punchTcp, planTcp, natViewOf as tcpNatViewOf, verifyStream as verifyTcpStream, selectStream as selectTcpStream,
  DEFAULT_PUNCH_TIMEOUT_MS as DEFAULT_TCP_PUNCH_TIMEOUT_MS, KEEPALIVE_INITIAL_DELAY_MS as TCP_KEEPALIVE_INITIAL_DELAY_MS,
  TcpPunchFailedError, TcpVerificationError,
  type PunchTcpOptions, type PunchTcpResult, type TcpEndpoint, type TcpMethod, type TcpNatView, type TcpPlan, type TcpStage,
  type TcpTechnique, type TcpPunchAttempt, type SignalChannel as TcpSignalChannel,
} from './punch/tcp/index.js';
export { predictPorts, estimateDelta, samplePorts, stepPort, birthdaySuccessProbability, FULL_PORT_RANGE, type PortRange } from './punch/predict.js';
export { normalizeCandidates, isCandidate, fromBrokerCandidates, type Candidate, type CandidateKind } from './punch/candidates.js';
export {
  Peer, pathOf, parseServerAddress, toServerAddress, establishPath, udpPath, tcpPath, ProbeError, PeerClosedError, RelayUnavailableError,
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_INCOMING_TIMEOUT_MS, DEFAULT_PROBE_TIMEOUT_MS, DEFAULT_RELAY_DEADLINE_MS, MAX_INCOMING_IN_PROGRESS, RELAY_MODES,
  type PeerRegisterOptions, type PeerComponents, type ConnectOptions, type PeerEvents, type ConnectionPath, type DatagramConnection,
  type IncomingConnection, type ServerAddress, type RelayMode, type PathChoice, type PathStrategy, type PathContext, type Established,
} from './peer/index.js';
export {
  turnPaths, turnTcpPath, turnUdpPath, turnSettings, parseTurnUrl, DEFAULT_TURN_PORT, TurnUrlError, TurnPeerFailedError,
  type TurnOption, type TurnSettings, type TurnUrl,
} from './peer/index.js';
export { DEFAULT_TURNS_PORT, type TurnTlsTrust } from './peer/index.js';
export { TurnTlsError, type TurnTlsOptions } from './relay/index.js';
export {
  startRelay, Relay, DEFAULT_RELAY_PORT, DEFAULT_RELAY_LIMITS, parseRelayEndpoints, attachTcp, attachUdp, RelayUdpChannel, AttachStatus, RelayAttachError,
  RelayCapacityError, RelayClosedError, TurnClient, turnRestCredentials, TurnErrorResponse, TurnAuthError, TurnClosedError,
  TurnProtocolError, TurnMethod, TurnAttributeType, TransportProtocol, ChannelNumber, Lifetime, XorPeerAddress, Data,
  XorRelayedAddress, RequestedAddressFamily, AdditionalAddressFamily, EvenPort, RequestedTransport, DontFragment, ReservationToken,
  ConnectionId, AddressErrorCode, Icmp,
  type RelayOptions, type RelayComponents, type RelayEndpoints, type RelaySessionGrant, type RelayLimits, type AttachTcpOptions,
  type AttachUdpOptions, type AttachUdpComponents, type RelayUdpChannelEvents, type TurnClientOptions, type TurnClientComponents,
  type AllocateOptions, type TurnAllocation, type TurnClientEvents, type TurnServerAddress, type TurnCredentials,
} from './relay/index.js';
export { RelaySpliceError, SPLICE_ENGINE_ENV, type SpliceEngineChoice } from './relay/index.js';
export {
  attachDatagrams, attachDatagramTcp, RelayTcpDatagramChannel, DEFAULT_UDP_ANSWER_TIMEOUT_MS, MAX_DATAGRAM_FRAME_BODY,
  type AttachDatagramsOptions, type AttachDatagramsComponents, type RelayDatagramChannel, type AttachDatagramTcpOptions,
  type AttachDatagramTcpComponents,
} from './relay/index.js';
export { UdpBlockedError } from './peer/index.js';
