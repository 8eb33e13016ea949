import type { EndpointIndex } from './binding-handler.js';

/**
 * The UDP hot path: an RFC 5389+ Binding request with no attributes from an IPv4 source (what
 * load and keep-alive traffic looks like) answered without the general codec. The reply is
 * byte-identical to the general path's (a test holds them together): XOR-MAPPED-ADDRESS,
 * MAPPED-ADDRESS, then RESPONSE-ORIGIN and OTHER-ADDRESS, which depend only on the answering
 * endpoint and so are encoded once per endpoint.
 */

const HEADER_LENGTH = 20;
const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;
const MAPPED_ADDRESS = 0x0001;
const IPV4_ADDRESS_ATTRIBUTE_LENGTH = 12;
const FAMILY_IPV4 = 0x01;
/** Parsed source addresses kept; a full cache is simply cleared (loopback floods stay cheap). */
const MAX_CACHED_ADDRESSES = 4096;

export class BindingFastPath {
  /** Encoded RESPONSE-ORIGIN (+ OTHER-ADDRESS) per endpoint, keyed `ip * 2 + port`. */
  readonly #tails: Buffer[];
  readonly #ipv4 = new Map<string, number>();

  constructor(tails: Buffer[]) {
    this.#tails = tails;
  }

  /** The response bytes, or undefined when the general path must handle the datagram. */
  respond(request: Buffer, address: string, port: number, at: EndpointIndex): Buffer | undefined {
    if (
      request.length !== HEADER_LENGTH ||
      request.readUInt16BE(0) !== BINDING_REQUEST ||
      request.readUInt16BE(2) !== 0 ||
      request.readUInt32BE(4) !== MAGIC_COOKIE
    ) {
      return undefined;
    }
    const ip = this.#parseIpv4(address);
    if (ip === undefined) return undefined;
    const tail = this.#tails[at.ip * 2 + at.port]!;
    const bodyLength = 2 * IPV4_ADDRESS_ATTRIBUTE_LENGTH + tail.length;
    const response = Buffer.allocUnsafe(HEADER_LENGTH + bodyLength);
    response.writeUInt16BE(BINDING_SUCCESS, 0);
    response.writeUInt16BE(bodyLength, 2);
    request.copy(response, 4, 4, HEADER_LENGTH);
    response.writeUInt32BE(XOR_MAPPED_ADDRESS << 16 | 8, 20);
    response.writeUInt16BE(FAMILY_IPV4, 24);
    response.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 26);
    response.writeUInt32BE((ip ^ MAGIC_COOKIE) >>> 0, 28);
    response.writeUInt32BE(MAPPED_ADDRESS << 16 | 8, 32);
    response.writeUInt16BE(FAMILY_IPV4, 36);
    response.writeUInt16BE(port, 38);
    response.writeUInt32BE(ip, 40);
    tail.copy(response, 44);
    return response;
  }

  #parseIpv4(address: string): number | undefined {
    const cached = this.#ipv4.get(address);
    if (cached !== undefined) return cached;
    const parts = address.split('.');
    if (parts.length !== 4) return undefined;
    let value = 0;
    for (const part of parts) {
      const octet = Number(part);
      if (!Number.isInteger(octet) || octet < 0 || octet > 255) return undefined;
      value = value * 256 + octet;
    }
    if (this.#ipv4.size >= MAX_CACHED_ADDRESSES) this.#ipv4.clear();
    this.#ipv4.set(address, value);
    return value;
  }
}
