import {
  registerAttribute,
  StunDecodeError,
  StunEncodeError,
  XorMappedAddress,
  type AttributeCodec,
  type TransportAddress,
} from '../../codec/index.js';

/** RFC 8656 §17 and RFC 6062 §6.1: TURN methods (Binding is in the codec). */
export const TurnMethod = {
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
  Connect: 0x00a,
  ConnectionBind: 0x00b,
  ConnectionAttempt: 0x00c,
} as const;

/** RFC 8656 §18 and RFC 6062 §6.2: TURN attribute types. */
export const TurnAttributeType = {
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  XorRelayedAddress: 0x0016,
  RequestedAddressFamily: 0x0017,
  EvenPort: 0x0018,
  RequestedTransport: 0x0019,
  DontFragment: 0x001a,
  ReservationToken: 0x0022,
  ConnectionId: 0x002a,
  AdditionalAddressFamily: 0x8000,
  AddressErrorCode: 0x8001,
  Icmp: 0x8004,
} as const;

/** IANA protocol numbers carried by REQUESTED-TRANSPORT. */
export const TransportProtocol = { Udp: 17, Tcp: 6 } as const;
/** RFC 8656 §18.6: family codes of REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY. */
const FAMILY_CODES = { IPv4: 0x01, IPv6: 0x02 } as const;

function fixedLength(name: string, data: Buffer, length: number): void {
  if (data.length !== length) throw new StunDecodeError(`${name} must be ${length} bytes, got ${data.length}`, 0);
}

function uint32Codec(type: number, name: string): AttributeCodec<number> {
  return {
    type,
    name,
    encode(value) {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new StunEncodeError(`${name}: ${value} is not a 32-bit unsigned integer`);
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(value);
      return bytes;
    },
    decode(data) {
      fixedLength(name, data, 4);
      return data.readUInt32BE(0);
    },
  };
}

function xorAddress(type: number, name: string): AttributeCodec<TransportAddress> {
  return { type, name, encode: XorMappedAddress.encode, decode: XorMappedAddress.decode };
}

function familyCodec(type: number, name: string): AttributeCodec<'IPv4' | 'IPv6'> {
  return {
    type,
    name,
    encode: (family) => Buffer.from([FAMILY_CODES[family], 0, 0, 0]),
    decode(data) {
      fixedLength(name, data, 4);
      if (data[0] === FAMILY_CODES.IPv4) return 'IPv4';
      if (data[0] === FAMILY_CODES.IPv6) return 'IPv6';
      throw new StunDecodeError(`${name}: unknown family 0x${data[0]!.toString(16)}`, 0);
    },
  };
}

/** RFC 8656 §18.1: a channel number (0x4000..0x4FFF) and two reserved bytes. */
export const ChannelNumber: AttributeCodec<number> = {
  type: TurnAttributeType.ChannelNumber,
  name: 'CHANNEL-NUMBER',
  encode(value) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new StunEncodeError(`CHANNEL-NUMBER: ${value} is not 16-bit`);
    const bytes = Buffer.alloc(4);
    bytes.writeUInt16BE(value);
    return bytes;
  },
  decode(data) {
    fixedLength('CHANNEL-NUMBER', data, 4);
    return data.readUInt16BE(0);
  },
};

/** RFC 8656 §18.2: seconds until the allocation expires. */
export const Lifetime = uint32Codec(TurnAttributeType.Lifetime, 'LIFETIME');
export const XorPeerAddress = xorAddress(TurnAttributeType.XorPeerAddress, 'XOR-PEER-ADDRESS');
export const XorRelayedAddress = xorAddress(TurnAttributeType.XorRelayedAddress, 'XOR-RELAYED-ADDRESS');

/** RFC 8656 §18.4: the application data of a Send or Data indication. */
export const Data: AttributeCodec<Buffer> = {
  type: TurnAttributeType.Data,
  name: 'DATA',
  encode: (value) => value,
  decode: (data) => data,
};

export const RequestedAddressFamily = familyCodec(TurnAttributeType.RequestedAddressFamily, 'REQUESTED-ADDRESS-FAMILY');
export const AdditionalAddressFamily = familyCodec(TurnAttributeType.AdditionalAddressFamily, 'ADDITIONAL-ADDRESS-FAMILY');

/** RFC 8656 §18.7: `reserve` asks the server to keep the next-higher port for a later allocation. */
export const EvenPort: AttributeCodec<{ reserve: boolean }> = {
  type: TurnAttributeType.EvenPort,
  name: 'EVEN-PORT',
  encode: (value) => Buffer.from([value.reserve ? 0x80 : 0]),
  decode(data) {
    fixedLength('EVEN-PORT', data, 1);
    return { reserve: (data[0]! & 0x80) !== 0 };
  },
};

/** RFC 8656 §18.8: the relay's transport protocol number (17 UDP; RFC 6062 adds 6 TCP). */
export const RequestedTransport: AttributeCodec<number> = {
  type: TurnAttributeType.RequestedTransport,
  name: 'REQUESTED-TRANSPORT',
  encode(value) {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new StunEncodeError(`REQUESTED-TRANSPORT: ${value} is not a protocol number`);
    return Buffer.from([value, 0, 0, 0]);
  },
  decode(data) {
    fixedLength('REQUESTED-TRANSPORT', data, 4);
    return data[0]!;
  },
};

/** RFC 8656 §18.9: no value; present means "set DF on relayed datagrams". */
export const DontFragment: AttributeCodec<true> = {
  type: TurnAttributeType.DontFragment,
  name: 'DONT-FRAGMENT',
  encode: () => Buffer.alloc(0),
  decode(data) {
    fixedLength('DONT-FRAGMENT', data, 0);
    return true;
  },
};

/** RFC 8656 §18.10: 8 opaque bytes naming a reserved relayed port. */
export const ReservationToken: AttributeCodec<Buffer> = {
  type: TurnAttributeType.ReservationToken,
  name: 'RESERVATION-TOKEN',
  encode(value) {
    if (value.length !== 8) throw new StunEncodeError('RESERVATION-TOKEN must be 8 bytes');
    return value;
  },
  decode(data) {
    fixedLength('RESERVATION-TOKEN', data, 8);
    return data;
  },
};

/** RFC 6062 §6.2.1: identifies one peer TCP connection of a TCP allocation. */
export const ConnectionId = uint32Codec(TurnAttributeType.ConnectionId, 'CONNECTION-ID');

/** RFC 8656 §18.12: why the server could not allocate one address family. */
export const AddressErrorCode: AttributeCodec<{ family: 'IPv4' | 'IPv6'; code: number; reason: string }> = {
  type: TurnAttributeType.AddressErrorCode,
  name: 'ADDRESS-ERROR-CODE',
  encode(value) {
    const reason = Buffer.from(value.reason, 'utf8');
    return Buffer.concat([Buffer.from([FAMILY_CODES[value.family], 0, Math.floor(value.code / 100), value.code % 100]), reason]);
  },
  decode(data) {
    if (data.length < 4) throw new StunDecodeError('ADDRESS-ERROR-CODE shorter than 4 bytes', 0);
    return { family: data[0] === FAMILY_CODES.IPv6 ? 'IPv6' : 'IPv4', code: (data[2]! & 0x07) * 100 + data[3]!, reason: data.toString('utf8', 4) };
  },
};

/** RFC 8656 §18.13: an ICMP type and code the relay received for the peer. */
export const Icmp: AttributeCodec<{ type: number; code: number; errorData: number }> = {
  type: TurnAttributeType.Icmp,
  name: 'ICMP',
  encode(value) {
    const bytes = Buffer.alloc(8);
    bytes[2] = value.type;
    bytes[3] = value.code;
    bytes.writeUInt32BE(value.errorData, 4);
    return bytes;
  },
  decode(data) {
    fixedLength('ICMP', data, 8);
    return { type: data[2]!, code: data[3]!, errorData: data.readUInt32BE(4) };
  },
};

for (const codec of [
  ChannelNumber, Lifetime, XorPeerAddress, Data, XorRelayedAddress, RequestedAddressFamily, AdditionalAddressFamily,
  EvenPort, RequestedTransport, DontFragment, ReservationToken, ConnectionId, AddressErrorCode, Icmp,
]) {
  registerAttribute(codec as AttributeCodec<unknown>);
}
