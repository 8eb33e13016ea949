import { once } from 'node:events';
import type net from 'node:net';
import type { IncomingConnection, Peer } from '../../src/peer/index.js';

/** The next verified incoming connection the peer hands out. */
export function nextIncoming(peer: Peer): Promise<IncomingConnection> {
  return once(peer, 'connection').then(([incoming]) => incoming as IncomingConnection);
}

/**
 * Reads `length` bytes and leaves the socket open and paused, so later bytes wait for the next
 * reader (breaking out of for-await would destroy the socket).
 */
export function readExactly(socket: net.Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      received += chunk.length;
      if (received < length) return;
      socket.off('data', onData).off('error', reject);
      socket.pause();
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData).once('error', reject);
  });
}
