import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { TransportAddress } from './protocol.js';

/** Compares a secret the client sent with ours in constant time. */
export function tokenMatches(expected: Buffer, given: string | undefined, encoding: BufferEncoding = 'base64url'): boolean {
  if (given === undefined) return false;
  const candidate = Buffer.from(given, encoding);
  return candidate.length === expected.length && timingSafeEqual(candidate, expected);
}

/** The client's address as peers will compare it. */
export function observedAddress(socket: net.Socket): TransportAddress | undefined {
  const address = socket.remoteAddress;
  const port = socket.remotePort;
  if (address === undefined || port === undefined) return undefined;
  // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; peers compare plain IPv4.
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return { family: 'IPv4', address: address.slice(7), port };
  return { family: net.isIPv6(address) ? 'IPv6' : 'IPv4', address, port };
}

