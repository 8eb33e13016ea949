import type net from 'node:net';

/**
 * How long a FIN waits after our last byte left for the TURN server: coturn tears both legs of a
 * relayed TCP connection down as soon as either sends FIN, discarding what it still holds for the
 * other peer, so the FIN must trail the data by about the relay's forwarding time.
 */
export const TURN_FIN_DELAY_MS = 1_000;

/**
 * Adapts a stream whose TCP peer is a TURN server to what TURN offers (no half-close, RFC 6062):
 * - `end()` sends the FIN only once the data written before it left this host and had
 *   TURN_FIN_DELAY_MS to cross the relay (see above);
 * - ECONNRESET is how coturn passes the other peer's close on (it resets both legs), so it ends
 *   the stream (EOF, then 'close' without error) instead of failing it. Other errors pass.
 */
export function adaptTurnStream(socket: net.Socket): net.Socket {
  const destroy = socket.destroy.bind(socket);
  socket.destroy = ((error?: Error) => {
    if ((error as NodeJS.ErrnoException | undefined)?.code !== 'ECONNRESET') return destroy(error);
    socket.push(null);
    return destroy();
  }) as typeof socket.destroy;

  const end = socket.end.bind(socket);
  let ending = false;
  socket.end = ((...args: unknown[]) => {
    const callback = typeof args.at(-1) === 'function' ? (args.pop() as () => void) : undefined;
    const [chunk, encoding] = args as [string | Uint8Array | undefined, BufferEncoding | undefined];
    if (ending || socket.destroyed) return callback ? end(callback) : end();
    ending = true;
    // A write's callback runs once it and every earlier write were handed to the kernel.
    const last = chunk === undefined || chunk === null ? Buffer.alloc(0) : chunk;
    socket.write(last, encoding ?? 'utf8', () => {
      const timer = setTimeout(() => (callback ? end(callback) : end()), TURN_FIN_DELAY_MS);
      socket.once('close', () => clearTimeout(timer));
    });
    return socket;
  }) as typeof socket.end;
  return socket;
}
