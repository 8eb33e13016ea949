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

/** An IPv4 address attribute (RFC 8489 14.1/14.2) at `offset`: type, length 8, family, port, address. */
function writeAddressAttribute(r: Buffer, offset: number, type: number, port: number, ip: number): void {
  r[offset] = type >>> 8;
  r[offset + 1] = type & 0xff;
  r[offset + 2] = 0;
  r[offset + 3] = 8;
  r[offset + 4] = 0;
  r[offset + 5] = FAMILY_IPV4;
  r[offset + 6] = port >>> 8;
  r[offset + 7] = port & 0xff;
  r[offset + 8] = ip >>> 24;
  r[offset + 9] = (ip >>> 16) & 0xff;
  r[offset + 10] = (ip >>> 8) & 0xff;
  r[offset + 11] = ip & 0xff;
}

export class BindingFastPath {
  /** Encoded RESPONSE-ORIGIN (+ OTHER-ADDRESS) per endpoint, keyed `ip * 2 + port`. */
  readonly #tails: Buffer[];
  readonly #ipv4 = new Map<string, number>();

  constructor(tails: Buffer[]) {
    this.#tails = tails;
  }

  /**
   * The response bytes, or undefined when the general path must handle the datagram.
   * Plain indexed stores: Buffer's read/write helpers cost tens of ns each, which adds up per packet.
   */
  respond(request: Buffer, address: string, port: number, at: EndpointIndex): Buffer | undefined {
    if (
      request.length !== HEADER_LENGTH ||
      request[0] !== BINDING_REQUEST >>> 8 || request[1] !== (BINDING_REQUEST & 0xff) || request[2] !== 0 || request[3] !== 0 ||
      request[4] !== 0x21 || request[5] !== 0x12 || request[6] !== 0xa4 || request[7] !== 0x42
    ) {
      return undefined;
    }
    const ip = this.#parseIpv4(address);
    if (ip === undefined) return undefined;
    const tail = this.#tails[at.ip * 2 + at.port]!;
    const bodyLength = 2 * IPV4_ADDRESS_ATTRIBUTE_LENGTH + tail.length;
    const r = Buffer.allocUnsafe(HEADER_LENGTH + bodyLength);
    r[0] = BINDING_SUCCESS >>> 8;
    r[1] = BINDING_SUCCESS & 0xff;
    r[2] = bodyLength >>> 8;
    r[3] = bodyLength & 0xff;
    for (let i = 4; i < HEADER_LENGTH; i++) r[i] = request[i]!;
    writeAddressAttribute(r, 20, XOR_MAPPED_ADDRESS, port ^ (MAGIC_COOKIE >>> 16), (ip ^ MAGIC_COOKIE) >>> 0);
    writeAddressAttribute(r, 32, MAPPED_ADDRESS, port, ip);
    for (let i = 0; i < tail.length; i++) r[44 + i] = tail[i]!;
    return r;
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
