/**
 * The pure STUN codec (RFC 8489, RFC 5780, RFC 3489 legacy): bytes in, plain values out. No
 * sockets, no timers. Attribute codecs live one family per file and register themselves in one
 * table; extensions (TURN) call registerAttribute with theirs.
 */
export { MAGIC_COOKIE, HEADER_LENGTH, StunClass, StunMethod, AttributeType } from './constants.js';
export type { TransportAddress, StunAttribute, StunMessage, AttributeCodec, CodecContext } from './types.js';
export { StunDecodeError, StunEncodeError, StunUnknownAttributesError } from './errors.js';
export { registerAttribute, attribute, getAttribute, getAttributes } from './registry.js';
export {
  MappedAddress,
  XorMappedAddress,
  AlternateServer,
  ResponseOrigin,
  OtherAddress,
  ChangedAddress,
  SourceAddress,
  ResponseAddress,
  ReflectedFrom,
} from './attributes/address.js';
export { Username, Realm, Nonce, Software, AlternateDomain } from './attributes/strings.js';
export { Userhash, Padding } from './attributes/bytes.js';
export { ErrorCode, type ErrorCodeValue } from './attributes/error-code.js';
export { ChangeRequest, ResponsePort, type ChangeRequestValue } from './attributes/change-request.js';
export { UnknownAttributes } from './attributes/unknown-attributes.js';
export {
  PasswordAlgorithm,
  PasswordAlgorithms,
  PasswordAlgorithmId,
  type PasswordAlgorithmValue,
} from './attributes/password-algorithm.js';
export { MessageIntegrity, MessageIntegritySha256, Fingerprint } from './attributes/integrity.js';
export { Priority, UseCandidate, IceControlled, IceControlling } from './attributes/ice.js';
export { encodeMessage, encodeMessageInto, encodedLength, type EncodeOptions } from './encode.js';
export { decodeMessage, type DecodeOptions } from './decode.js';
export { checkMessageIntegrity } from './check-integrity.js';
export { isStunMessage, messageLength, newTransactionId } from './header.js';
export { shortTermKey, longTermKey, userhash, saslPrep } from './credentials.js';
