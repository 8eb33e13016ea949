import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

/**
 * Runs `body` with a TCP echo server on loopback, closed afterwards. A relay resets its peer
 * connection when the client's side goes away; the echo side takes that as the end.
 */
export async function withEchoServer(body: (port: number) => Promise<void>): Promise<void> {
  const echo = net.createServer({ allowHalfOpen: true }, (socket) => socket.on('error', () => socket.destroy()).pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  try {
    await body((echo.address() as net.AddressInfo).port);
  } finally {
    echo.close();
  }
}

/** Writes `size` random bytes and checks that exactly those come back. */
export async function assertEchoes(socket: net.Socket, size: number): Promise<void> {
  const payload = randomBytes(size);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write(payload);
  while (Buffer.concat(chunks).length < payload.length) await once(socket, 'data');
  assert.deepEqual(Buffer.concat(chunks), payload);
}
