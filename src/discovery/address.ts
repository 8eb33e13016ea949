import type { TransportAddress } from '../codec/index.js';

export function sameTransportAddress(a: TransportAddress, b: TransportAddress): boolean {
  return a.port === b.port && a.address === b.address;
}

export function formatAddress(address: TransportAddress | { host: string; port: number }): string {
  const host = 'address' in address ? address.address : address.host;
  return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}
