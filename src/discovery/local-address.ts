import dgram from 'node:dgram';
import os from 'node:os';
import type { TransportAddress } from '../codec/index.js';

/**
 * The local address the kernel would use to reach `server`: a connected UDP socket picks the
 * route's source address without sending anything. null when there is no route.
 */
export async function routeSourceAddress(server: TransportAddress): Promise<string | null> {
  const socket = dgram.createSocket(server.family === 'IPv6' ? 'udp6' : 'udp4');
  try {
    return await new Promise<string | null>((resolve) => {
      socket.once('error', () => resolve(null));
      socket.connect(server.port, server.address, () => resolve(socket.address().address));
    });
  } finally {
    socket.close();
  }
}

/** Every non-loopback interface address of this host (the candidates a peer on the same LAN can reach). */
export function interfaceAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((info): info is os.NetworkInterfaceInfo => info !== undefined && !info.internal)
    .map((info) => info.address);
}
