export { TurnClient, type TurnClientOptions, type TurnClientComponents, type AllocateOptions, type TurnAllocation, type TurnClientEvents, type TurnServerAddress } from './turn-client.js';
export { turnRestCredentials, type TurnCredentials } from './credentials.js';
export { TurnErrorResponse, TurnAuthError, TurnClosedError, TurnProtocolError, TurnTlsError } from './errors.js';
export type { TurnTlsOptions } from './server-connection.js';
export {
  TurnMethod, TurnAttributeType, TransportProtocol, ChannelNumber, Lifetime, XorPeerAddress, Data, XorRelayedAddress,
  RequestedAddressFamily, AdditionalAddressFamily, EvenPort, RequestedTransport, DontFragment, ReservationToken,
  ConnectionId, AddressErrorCode, Icmp,
} from './attributes.js';
export { channelDataHeader, parseChannelData, isChannelData, CHANNEL_MIN, CHANNEL_MAX } from './channel-data.js';
