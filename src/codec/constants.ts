/** RFC 8489 §5: fixed value in bytes 4..8 of every post-RFC 3489 message. */
export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const TRANSACTION_ID_LENGTH = 12;
/** RFC 3489 has no magic cookie: its transaction id is the whole 16 bytes after the length. */
export const LEGACY_TRANSACTION_ID_LENGTH = 16;
/** RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message XORed with this ("STUN"). */
export const FINGERPRINT_XOR = 0x5354554e;

export const StunClass = { Request: 0, Indication: 1, SuccessResponse: 2, ErrorResponse: 3 } as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

/** TURN and other extensions define their methods next to their code. */
export const StunMethod = { Binding: 0x001 } as const;

/** Attribute type codes (IANA "STUN Attributes" registry). */
export const AttributeType = {
  MappedAddress: 0x0001,
  ResponseAddress: 0x0002,
  ChangeRequest: 0x0003,
  SourceAddress: 0x0004,
  ChangedAddress: 0x0005,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ReflectedFrom: 0x000b,
  Realm: 0x0014,
  Nonce: 0x0015,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Padding: 0x0026,
  ResponsePort: 0x0027,
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
  ResponseOrigin: 0x802b,
  OtherAddress: 0x802c,
} as const;

/** RFC 8489 §14: types below 0x8000 must be understood by the receiver. */
export const COMPREHENSION_OPTIONAL_MIN = 0x8000;
