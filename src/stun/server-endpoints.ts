import dgram from 'node:dgram';
import net from 'node:net';
import { familyOf } from './addresses.js';
import type { EndpointIndex } from './binding-handler.js';

/** The server's endpoints in a fixed order: primary/primary, primary/alt port, alt ip/primary, alt/alt. */
export function endpointIndexes(addressCount: number): EndpointIndex[] {
  const indexes: EndpointIndex[] = [];
  for (let ip = 0; ip < addressCount; ip++) for (const port of [0, 1] as const) indexes.push({ ip: ip as 0 | 1, port });
  return indexes;
}

/** Position of an endpoint in that order. */
export function slot(index: EndpointIndex): number {
  return index.ip * 2 + index.port;
}

export function bindUdp(address: string, port: number, exclusive: boolean): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: familyOf(address) === 'IPv6' ? 'udp6' : 'udp4', ipv6Only: familyOf(address) === 'IPv6' });
  return new Promise((resolve, reject) => {
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind({ address, port, exclusive }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

export function listenTcp(server: net.Server, address: string, port: number, exclusive: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive, ipv6Only: familyOf(address) === 'IPv6' }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
