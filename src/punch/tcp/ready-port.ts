import net from 'node:net';
import { tcpBinding } from '../../stun/index.js';

/** A local TCP port with its public mapping known, to punch from without probing first. */
export interface ReadyTcpPort {
  localAddress: string;
  port: number;
  mapped: { address: string; port: number };
  /** Round trip of the probe that learnt the mapping (to the STUN server). */
  rttMs: number;
}

/** A port nothing is bound to now (the kernel's pick, released at once). */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: address }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Takes a fresh port and learns its mapping with a TCP STUN Binding from it. Behind an
 * endpoint-independent mapping NAT the peer can be told that mapping ahead of a connection, so
 * the punch starts with the first SYN instead of a probe and a mapping exchange.
 */
export async function armTcpPort(options: { stunServer: { host: string; port: number }; localAddress: string; timeoutMs: number; signal?: AbortSignal }): Promise<ReadyTcpPort> {
  const port = await freePort(options.localAddress);
  const result = await tcpBinding({
    server: options.stunServer, localPort: port, localAddress: options.localAddress, timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { localAddress: options.localAddress, port, mapped: { address: result.mapped.address, port: result.mapped.port }, rttMs: result.rttMs };
}
