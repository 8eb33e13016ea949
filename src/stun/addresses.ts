import { isIPv6 } from 'node:net';
import type { TransportAddress } from '../codec/index.js';

/** A host and port a caller names (host may be a name or an IP literal). */
export interface HostPort {
  host: string;
  port: number;
}

export function familyOf(address: string): 'IPv4' | 'IPv6' {
  return isIPv6(address) ? 'IPv6' : 'IPv4';
}

export function transportAddress(address: string, port: number): TransportAddress {
  return { family: familyOf(address), address, port };
}

/** `host:port`, with IPv6 literals in brackets. */
export function formatAddress(address: { address: string; port: number }): string {
  return isIPv6(address.address) ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
