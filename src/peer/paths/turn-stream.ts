import type net from 'node:net';

/**
 * A TURN server's TCP legs are the only TCP peers a TURN stream has, and coturn ends a relayed
 * connection by resetting both legs as soon as either side sends FIN (TURN carries no half-close).
 * On such a stream ECONNRESET is therefore how the other peer's close arrives: report it as the
 * end of the stream (EOF, then 'close' without error) instead of a failure. Other errors pass.
 */
export function endOnTurnReset(socket: net.Socket): net.Socket {
  const destroy = socket.destroy.bind(socket);
  socket.destroy = ((error?: Error) => {
    if ((error as NodeJS.ErrnoException | undefined)?.code !== 'ECONNRESET') return destroy(error);
    socket.push(null);
    return destroy();
  }) as typeof socket.destroy;
  return socket;
}
