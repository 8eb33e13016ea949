import { once } from 'node:events';
import type net from 'node:net';
import { attachTcp, startRelay, type Relay, type RelayLimits, type RelayOptions } from '../../../src/relay/index.js';

/** Runs `body` against a fresh relay on loopback (free TCP and UDP ports), closed afterwards. */
export async function withRelay(limits: Partial<RelayLimits>, body: (relay: Relay) => Promise<void>, options: Omit<RelayOptions, 'limits'> = {}): Promise<void> {
  const relay = await startRelay({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, ...options, limits });
  try {
    await body(relay);
  } finally {
    await relay.close();
  }
}

/** A new relay session with both peers attached over TCP: [side 0, side 1]. */
export async function tcpPair(relay: Relay): Promise<[net.Socket, net.Socket]> {
  const { tokens, endpoints } = await relay.createSession();
  const attach = (token: string) => attachTcp({ host: endpoints.host, port: endpoints.tcpPort, token, timeoutMs: 5000 });
  return Promise.all([attach(tokens[0]), attach(tokens[1])]);
}

/** Everything a socket receives until its FIN. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

export function closed(socket: net.Socket): Promise<unknown> {
  return socket.closed ? Promise.resolve() : once(socket, 'close');
}
