import {
  attribute,
  ChangedAddress,
  ChangeRequest,
  checkMessageIntegrity,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  Fingerprint,
  MappedAddress,
  MessageIntegrity,
  MessageIntegritySha256,
  OtherAddress,
  Padding,
  ResponseOrigin,
  ResponsePort,
  shortTermKey,
  SourceAddress,
  StunClass,
  StunMethod,
  StunUnknownAttributesError,
  UnknownAttributes,
  Username,
  XorMappedAddress,
  getAttribute,
  type StunAttribute,
  type StunMessage,
  type TransportAddress,
} from '../codec/index.js';

/**
 * The server's decisions, without sockets: bytes from a source arriving at one of the (up to)
 * four endpoints -> drop, or a response and the endpoint it must leave from.
 */

/** Which of the server's addresses (0 primary, 1 alternate) and ports (0 primary, 1 alternate). */
export interface EndpointIndex {
  ip: 0 | 1;
  port: 0 | 1;
}

export interface BindingHandlerConfig {
  /** [primary, alternate] addresses; one entry when the server has a single address. */
  addresses: string[];
  /** [primary, alternate] ports. */
  ports: [number, number];
  /** Short-term credentials (RFC 8489 section 9.1): requests must carry USERNAME + MESSAGE-INTEGRITY. */
  credentials?: { username: string; password: string };
  /** Largest PADDING echoed to an authenticated request; unauthenticated ones get none. */
  maxPaddingBytes: number;
}

export type DropReason = 'garbage' | 'not-request' | 'legacy-not-binding';

export type BindingDecision =
  | { action: 'drop'; reason: DropReason }
  | { action: 'respond'; bytes: Buffer; from: EndpointIndex; to: TransportAddress; errorCode?: number };

const HEADER_LENGTH = 20;
const MAGIC_COOKIE = 0x2112a442;

/** The first two bits are zero and the length field matches the datagram (RFC 8489 section 5). */
export function looksLikeStun(bytes: Buffer): boolean {
  if (bytes.length < HEADER_LENGTH || (bytes[0]! & 0xc0) !== 0) return false;
  const length = bytes.readUInt16BE(2);
  return length % 4 === 0 && length + HEADER_LENGTH === bytes.length;
}

interface Header {
  cls: StunClass;
  method: number;
  legacy: boolean;
  transactionId: Buffer;
}

function readHeader(bytes: Buffer): Header {
  const type = bytes.readUInt16BE(0);
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type & 0x0100) >> 7) | ((type & 0x0010) >> 4)) as StunClass;
  const legacy = bytes.readUInt32BE(4) !== MAGIC_COOKIE;
  return { cls, method, legacy, transactionId: Buffer.from(bytes.subarray(legacy ? 4 : 8, HEADER_LENGTH)) };
}

export class BindingHandler {
  readonly #config: BindingHandlerConfig;
  readonly #key: Buffer | undefined;

  constructor(config: BindingHandlerConfig) {
    this.#config = config;
    this.#key = config.credentials ? shortTermKey(config.credentials.password) : undefined;
  }

  get fullRfc5780(): boolean {
    return this.#config.addresses.length > 1;
  }

  endpoint(index: EndpointIndex): TransportAddress {
    const address = this.#config.addresses[index.ip]!;
    return { family: address.includes(':') ? 'IPv6' : 'IPv4', address, port: this.#config.ports[index.port] };
  }

  handle(bytes: Buffer, source: TransportAddress, at: EndpointIndex, transport: 'udp' | 'tcp'): BindingDecision {
    if (!looksLikeStun(bytes)) return { action: 'drop', reason: 'garbage' };
    const header = readHeader(bytes);
    if (header.cls !== StunClass.Request) return { action: 'drop', reason: 'not-request' };
    const reply = (code: number, reason: string, extra: StunAttribute[] = []) => this.#error(header, at, source, code, reason, extra);
    if (header.method !== StunMethod.Binding) {
      // RFC 3489 had Shared Secret requests; modern clients get 400 for a method we do not serve.
      return header.legacy ? { action: 'drop', reason: 'legacy-not-binding' } : reply(400, 'Bad Request: unsupported method');
    }
    let request: StunMessage;
    try {
      request = decodeMessage(bytes);
    } catch (error) {
      if (error instanceof StunUnknownAttributesError) {
        return reply(420, 'Unknown Attribute', [attribute(UnknownAttributes, error.unknownAttributes)]);
      }
      return reply(400, 'Bad Request: malformed message');
    }
    const authenticated = this.#key !== undefined;
    if (authenticated && !request.legacy) {
      const username = getAttribute(request, Username);
      const hasIntegrity = request.attributes.some((a) => a.type === MessageIntegrity.type || a.type === MessageIntegritySha256.type);
      if (username === undefined || !hasIntegrity) return reply(400, 'Bad Request: USERNAME and MESSAGE-INTEGRITY required');
      if (username !== this.#config.credentials!.username || !checkMessageIntegrity(bytes, this.#key!)) {
        return reply(401, 'Unauthorized');
      }
    } else if (authenticated) {
      return reply(401, 'Unauthorized');
    }

    // RFC 5780 section 7.2: CHANGE-REQUEST moves the response to another of our endpoints.
    const change = getAttribute(request, ChangeRequest);
    const changeIp = change?.changeIp ?? false;
    const changePort = change?.changePort ?? false;
    if ((changeIp || changePort) && transport === 'tcp') return reply(400, 'Bad Request: CHANGE-REQUEST over TCP');
    if ((changeIp || changePort) && !this.fullRfc5780) {
      return reply(420, 'Unknown Attribute: no alternate address', [attribute(UnknownAttributes, [ChangeRequest.type])]);
    }
    const from: EndpointIndex = {
      ip: (changeIp ? 1 - at.ip : at.ip) as 0 | 1,
      port: (changePort ? 1 - at.port : at.port) as 0 | 1,
    };
    // RFC 5780 section 7.5: RESPONSE-PORT sends to our source address, on another port.
    const responsePort = getAttribute(request, ResponsePort);
    if (responsePort !== undefined && transport === 'tcp') return reply(400, 'Bad Request: RESPONSE-PORT over TCP');
    const to: TransportAddress = responsePort === undefined ? source : { ...source, port: responsePort };

    const attributes = request.legacy ? this.#legacyAttributes(source, at, from) : this.#attributes(source, at, from);
    const padding = getAttribute(request, Padding);
    if (padding !== undefined && authenticated && !request.legacy && transport === 'udp') {
      // unauthenticated PADDING is ignored: echoing it would amplify a spoofed request
      attributes.push(attribute(Padding, Buffer.alloc(Math.min(padding.length, this.#config.maxPaddingBytes))));
    }
    const response: StunMessage = {
      cls: StunClass.SuccessResponse,
      method: StunMethod.Binding,
      transactionId: request.transactionId,
      legacy: request.legacy,
      attributes,
    };
    return { action: 'respond', bytes: this.#encode(response, request), from, to };
  }

  #attributes(source: TransportAddress, at: EndpointIndex, from: EndpointIndex): StunAttribute[] {
    const attributes = [
      attribute(XorMappedAddress, source),
      attribute(MappedAddress, source),
      attribute(ResponseOrigin, this.endpoint(from)),
    ];
    if (this.fullRfc5780) attributes.push(attribute(OtherAddress, this.#other(at)));
    return attributes;
  }

  /** RFC 3489 section 11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS. */
  #legacyAttributes(source: TransportAddress, at: EndpointIndex, from: EndpointIndex): StunAttribute[] {
    const attributes = [attribute(MappedAddress, source), attribute(SourceAddress, this.endpoint(from))];
    if (this.fullRfc5780) attributes.push(attribute(ChangedAddress, this.#other(at)));
    return attributes;
  }

  /** The endpoint differing in both address and port from the one the request arrived at. */
  #other(from: EndpointIndex): TransportAddress {
    return this.endpoint({ ip: (1 - from.ip) as 0 | 1, port: (1 - from.port) as 0 | 1 });
  }

  #encode(response: StunMessage, request: StunMessage): Buffer {
    const fingerprint = request.attributes.some((a) => a.type === Fingerprint.type);
    if (this.#key !== undefined && !request.legacy) return encodeMessage(response, { integrity: { key: this.#key }, fingerprint });
    return encodeMessage(response, { fingerprint });
  }

  #error(header: Header, at: EndpointIndex, source: TransportAddress, code: number, reason: string, extra: StunAttribute[]): BindingDecision {
    const response: StunMessage = {
      cls: StunClass.ErrorResponse,
      method: header.method,
      transactionId: header.transactionId,
      legacy: header.legacy,
      attributes: [attribute(ErrorCode, { code, reason }), ...extra],
    };
    return { action: 'respond', bytes: encodeMessage(response), from: at, to: source, errorCode: code };
  }
}
