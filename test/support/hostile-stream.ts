import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';

/**
 * Sends `chunks` to a server on a fresh loopback connection, then ends it (or leaves it idle),
 * and asserts the server closes it within `limitMs`. A reset counts as closed: a server may close
 * with the sender's bytes still unread.
 */
export async function expectClosedWithin(port: number, chunks: Buffer[], endAfter: boolean, limitMs: number, server: string): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await once(socket, 'connect');
  for (const bytes of chunks) socket.write(bytes);
  if (endAfter) socket.end();
  const closed = once(socket, 'close');
  let held = false;
  const deadline = setTimeout(() => {
    held = true;
    socket.destroy();
  }, limitMs);
  await closed;
  clearTimeout(deadline);
  assert.equal(held, false, `the ${server} held a hostile connection for ${limitMs} ms`);
}
