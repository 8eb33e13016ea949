import dgram from 'node:dgram';
import os from 'node:os';
import type { TransportAddress } from '../codec/index.js';
import type { Logger } from '../observe/logger.js';

/**
 * The local address the kernel would use to reach `server`: a connected UDP socket picks the
 * route's source address without sending anything. null when the kernel gives none (no route, or
 * an address it cannot connect to); why goes to `logger`, since discovery still runs without it
 * (probes then report the wildcard address and the profile cache is keyed without one).
 */
export async function routeSourceAddress(server: TransportAddress, logger: Logger): Promise<string | null> {
  const socket = dgram.createSocket(server.family === 'IPv6' ? 'udp6' : 'udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      // connect throws at once on an invalid port, and reports unroutable addresses as 'error'
      socket.connect(server.port, server.address, () => resolve(socket.address().address));
    });
  } catch (error) {
    logger.warn({ err: error, server }, 'no local route source address for the STUN server');
    return null;
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
