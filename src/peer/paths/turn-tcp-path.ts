import net from 'node:net';
import { AbortedError, TimeoutError } from '../../errors.js';
import { selectStream, verifyStream } from '../../punch/tcp/index.js';
import type { TransportAddress } from '../../codec/index.js';
import { TurnClosedError, type TurnClient } from '../../relay/index.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';
import { allocateForPeer } from './turn-allocation.js';
import type { TurnSettings } from './turn-config.js';
import { relayedAddressOf } from './turn-signals.js';
import { adaptTurnStream } from './turn-stream.js';

/**
 * TCP through a TURN server (RFC 6062): the dialler makes a TCP allocation and announces its
 * relayed address; the listener makes a plain TCP connection to it, which the server offers the
 * dialler as a ConnectionAttempt and the dialler takes with ConnectionBind. Both ends then run the
 * per-connection handshake over that stream, as on a punched one; the dialler's SELECT commits it.
 * The allocation lives as long as the stream.
 */
export function turnTcpPath(settings: TurnSettings): PathStrategy {
  return {
    name: 'turn-tcp',
    standalone: true,
    establish: (context) => (context.coordination.role === 'initiator' ? acceptThroughRelay(settings, context) : connectToRelayed(context)),
  };
}

async function acceptThroughRelay(settings: TurnSettings, context: PathContext): Promise<Established> {
  const { client } = await allocateForPeer(settings, 'tcp', context);
  try {
    const socket = await firstVerifiedConnection(client, context);
    socket.setNoDelay(true);
    adaptTurnStream(socket);
    socket.once('close', () => void client.close());
    return { transport: 'tcp', socket, method: 'turn', commit: () => selectStream(socket) };
  } catch (error) {
    await client.close();
    throw error;
  }
}

/** 4. Each connection the relay hands over is verified; the first that proves the peer is kept, later ones are closed. */
function firstVerifiedConnection(client: TurnClient, context: PathContext): Promise<net.Socket> {
  const { coordination, signal, timeoutMs, logger } = context;
  return new Promise((resolve, reject) => {
    let settled = false;
    const pending = new Set<net.Socket>();
    const finish = (error: Error | undefined, socket?: net.Socket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      client.off('close', onClose);
      for (const other of pending) if (other !== socket) other.destroy();
      if (error) reject(error);
      else resolve(socket!);
    };
    const onConnection = (socket: net.Socket, peer: TransportAddress): void => {
      if (settled) {
        socket.destroy();
        return;
      }
      pending.add(socket);
      verifyStream(socket, { role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret, signal, timeoutMs }).then(
        () => finish(undefined, socket),
        (error: unknown) => {
          pending.delete(socket);
          socket.destroy();
          logger.info({ err: error, peer }, 'a connection through the TURN relay failed the peer proof');
        },
      );
    };
    const onAbort = (): void => finish(new AbortedError('TURN path aborted', { cause: signal.reason }));
    const onClose = (): void => finish(new TurnClosedError('the TURN control connection closed before the peer connected'));
    const timer = setTimeout(() => finish(new TimeoutError(`the peer did not connect through the TURN relay within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    client.on('connection', onConnection);
    client.once('close', onClose);
  });
}

async function connectToRelayed(context: PathContext): Promise<Established> {
  const { coordination, signal, timeoutMs } = context;
  const signals = context.signals;
  const relayed = await relayedAddressOf(signals, coordination.connectionId, { signal, timeoutMs });
  const socket = await connect(relayed, signal);
  try {
    await diallerSpoke(socket, signal, timeoutMs);
    // Resolves once the dialler selected this stream, so both ends keep the same path.
    await verifyStream(socket, { role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret, signal, timeoutMs });
    socket.setNoDelay(true);
    adaptTurnStream(socket);
    return { transport: 'tcp', socket, method: 'turn' };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

function connect(relayed: { address: string; port: number }, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: relayed.address, port: relayed.port });
    const done = (error?: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      if (!error) return resolve(socket);
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => done(new AbortedError('connecting to the TURN relayed address aborted', { cause: signal.reason }));
    const onError = (error: Error): void => done(new TurnClosedError(`cannot connect to the relayed address ${relayed.address}:${relayed.port}: ${error.message}`, { cause: error }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => done());
  });
}

/**
 * Older coturn releases dropped what a peer sent before the allocating client's ConnectionBind
 * (coturn issue #495): the handshake speaks only once the dialler's first bytes arrived, which it
 * can only send after binding.
 */
function diallerSpoke(socket: net.Socket, signal: AbortSignal, timeoutMs: number): Promise<void> {
  if (socket.readableLength > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('readable', onReadable).off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onReadable = (): void => done();
    const onClose = (): void => done(new TurnClosedError('the relayed connection closed before the dialler spoke'));
    const onAbort = (): void => done(new AbortedError('TURN path aborted', { cause: signal.reason }));
    const timer = setTimeout(() => done(new TimeoutError(`the dialler sent nothing through the TURN relay within ${timeoutMs} ms`, timeoutMs)), timeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('readable', onReadable).once('close', onClose);
  });
}
