import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError, NtcpError, TimeoutError } from '../errors.js';
import { IDLE_TIMEOUT_MS } from '../punch/udp/index.js';
import { formatAddress } from '../stun/index.js';
import type { ConnectionPath, DatagramConnection, Peer, RelayMode } from '../peer/index.js';
import { parseServerAddress, RELAY_MODES, type ServerAddress } from '../peer/index.js';
import { brokerTlsClientOption } from './broker-tls-flags.js';

/** After the end of stdin, a UDP session still takes the peer's datagrams this long before it closes. */
export const UDP_LINGER_MS = 300;

/** Flags `ntcp listen` and `ntcp connect` share. */
export interface PeerFlags {
  server: string;
  id: string;
  udp?: boolean;
  json?: boolean;
  probeTimeout?: number;
  stunPort?: number;
  relay?: RelayMode;
  brokerTls?: boolean;
  brokerCa?: string;
}

export function positiveMs(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`expected a positive number of ms, got ${text}`);
  return value;
}

export function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new InvalidArgumentError(`not a port: ${text}`);
  return value;
}

/** --server HOST[:BROKER_PORT] with --stun-port and --broker-tls / --broker-ca folded in. */
export function serverOption(flags: PeerFlags): ServerAddress {
  const server = { ...parseServerAddress(flags.server), ...brokerTlsClientOption(flags) };
  return flags.stunPort === undefined ? server : { ...server, stunPort: flags.stunPort };
}

export function relayOption(text: string): RelayMode {
  if (!(RELAY_MODES as readonly string[]).includes(text)) throw new InvalidArgumentError(`--relay must be one of ${RELAY_MODES.join(', ')}, got ${text}`);
  return text as RelayMode;
}

/** Progress on stderr: words for people, or one JSON object per line with `--json`. */
export class Reporter {
  readonly #json: boolean;
  readonly #out: Writable;

  constructor(json: boolean, out: Writable = process.stderr) {
    this.#json = json;
    this.#out = out;
  }

  registered(peer: Peer, server: string): void {
    const udp = peer.profile.udp?.rfc3489Type;
    const tcp = peer.profile.tcp?.kind;
    this.#emit(
      { event: 'registered', id: peer.id, server, observed: peer.observed ? formatAddress(peer.observed) : null, nat: { udp: udp ?? null, tcp: tcp ?? null } },
      `registered as ${JSON.stringify(peer.id)} with ${server} (NAT: udp ${udp ?? 'not probed'}, tcp ${tcp ?? 'not probed'})`,
    );
  }

  waiting(transport: string): void {
    this.#emit({ event: 'listening', transport }, `waiting for a ${transport.toUpperCase()} connection`);
  }

  connected(path: ConnectionPath): void {
    this.#emit(
      {
        event: 'connected', transport: path.transport, method: path.method, elapsedMs: path.elapsedMs,
        ...(path.attempts !== undefined ? { attempts: path.attempts } : {}),
        local: formatAddress(path.local), remote: formatAddress(path.remote), peer: path.peerId, role: path.role, sameNat: path.sameNat,
      },
      `connected to ${JSON.stringify(path.peerId)} over ${path.transport.toUpperCase()} by ${path.method} in ${path.elapsedMs} ms (${formatAddress(path.local)} -> ${formatAddress(path.remote)})`,
    );
  }

  closed(result: SessionResult): void {
    this.#emit({ event: 'closed', ...result }, `closed (${result.reason}): ${result.bytesIn} bytes in, ${result.bytesOut} bytes out`);
  }

  incomingFailed(peerId: string, error: unknown): void {
    const { code, message } = describe(error);
    this.#emit({ event: 'incoming-error', peer: peerId, code, message }, `a connection from ${JSON.stringify(peerId)} failed: ${message} (${code})`);
  }

  reconnecting(): void {
    this.#emit({ event: 'disconnected' }, 'lost the broker: reconnecting');
  }

  reregistered(): void {
    this.#emit({ event: 'reregistered' }, 'registered again with the broker');
  }

  #emit(record: object, words: string): void {
    this.#out.write(this.#json ? JSON.stringify(record) + '\n' : `ntcp: ${words}\n`);
  }
}

function describe(error: unknown): { code: string; message: string } {
  return { code: error instanceof NtcpError ? error.code : 'ERR_FAIL', message: error instanceof Error ? error.message : String(error) };
}

export interface SessionResult {
  /** 'done' when both directions ended cleanly; 'remote' / 'local' for the UDP side that ended it. */
  reason: string;
  bytesIn: number;
  bytesOut: number;
}

/**
 * netcat over TCP: stdin to the peer, the peer to stdout. The end of stdin half-closes our side;
 * the session is over once both directions have ended.
 */
export function tcpSession(socket: net.Socket, input: Readable, output: Writable): Promise<SessionResult> {
  // The peer's FIN must not end our direction: stdin may still have data for it.
  socket.allowHalfOpen = true;
  let bytesIn = 0;
  let bytesOut = 0;
  return new Promise((resolve, reject) => {
    input.on('data', (chunk: Buffer) => {
      bytesOut += chunk.length;
      if (!socket.write(chunk)) {
        input.pause();
        socket.once('drain', () => input.resume());
      }
    });
    input.once('end', () => socket.end());
    input.once('error', (error) => socket.destroy(error));
    socket.on('data', (chunk: Buffer) => {
      bytesIn += chunk.length;
      if (!output.write(chunk)) {
        socket.pause();
        output.once('drain', () => socket.resume());
      }
    });
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (!hadError) resolve({ reason: 'done', bytesIn, bytesOut });
    });
    input.resume();
  });
}

/**
 * netcat over UDP: each stdin chunk becomes one datagram (split to the path's maximum size),
 * each datagram from the peer goes to stdout. The end of stdin ends the session for both sides,
 * after a short linger for the peer's last datagrams; the peer's end ends it for us.
 */
export function udpSession(connection: DatagramConnection, input: Readable, output: Writable, lingerMs = UDP_LINGER_MS): Promise<SessionResult> {
  let bytesIn = 0;
  let bytesOut = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      for (let offset = 0; offset < chunk.length; offset += connection.maxDatagramSize) {
        const datagram = chunk.subarray(offset, offset + connection.maxDatagramSize);
        connection.send(datagram);
        bytesOut += datagram.length;
      }
    };
    input.on('data', onData);
    input.once('end', () => {
      setTimeout(() => void connection.close(), lingerMs);
    });
    input.once('error', (error) => {
      void connection.close();
      reject(error);
    });
    connection.on('message', (payload: Buffer) => {
      bytesIn += payload.length;
      output.write(payload);
    });
    connection.once('close', ({ reason }: { reason: string }) => {
      input.off('data', onData);
      if (reason === 'idle') reject(new TimeoutError('the peer went silent: no datagram or keepalive within the idle timeout', IDLE_TIMEOUT_MS));
      else resolve({ reason, bytesIn, bytesOut });
    });
    input.resume();
  });
}

/** Waits until everything written to `stream` has been handed to the OS. */
export function flushed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}
