import dgram from 'node:dgram';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { decodeMessage, StunClass, type StunMessage, type TransportAddress } from '../../codec/index.js';
import { TimeoutError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { deadline } from '../abort.js';
import { parseChannelData, paddingFor } from './channel-data.js';
import { TurnClosedError } from './errors.js';
import { connectToServer, type TurnTlsOptions } from './server-connection.js';
import { StreamFrames } from './stream-frames.js';

/** RFC 8489 §6.2.1: initial RTO for UDP, doubled on each retransmission, Rc sends. */
const UDP_RTO_MS = 500;
const UDP_MAX_SENDS = 7;
const UDP_LAST_WAIT_FACTOR = 16;

export interface ControlTransportEvents {
  indication: [message: StunMessage];
  'channel-data': [channel: number, data: Buffer];
  close: [error?: Error];
}

/**
 * The client's connection to the TURN server: STUN transactions (responses matched by
 * transaction id, raw bytes kept for the integrity check), indications and ChannelData in both
 * directions. Over UDP requests are retransmitted; over TCP and TLS the stream is framed (§12.5).
 */
export abstract class ControlTransport extends EventEmitter<ControlTransportEvents> {
  abstract readonly reliable: boolean;
  protected readonly pending = new Map<string, { resolve(result: { message: StunMessage; bytes: Buffer }): void; reject(error: Error): void }>();
  protected closed = false;
  protected readonly logger: Logger;

  constructor(logger: Logger) {
    super();
    this.logger = logger;
  }

  abstract local(): TransportAddress;
  abstract send(chunks: Buffer[]): void;
  abstract close(): Promise<void>;
  protected abstract transmitRequest(bytes: Buffer, attempt: number): number | undefined;

  /** Sends `bytes` (an encoded request) until its response arrives, the deadline, or an abort. */
  request(bytes: Buffer, transactionId: Buffer, timeoutMs: number, signal?: AbortSignal): Promise<{ message: StunMessage; bytes: Buffer }> {
    if (this.closed) return Promise.reject(new TurnClosedError('TURN client is closed'));
    const key = transactionId.toString('hex');
    const limit = deadline('TURN request', timeoutMs, signal);
    return new Promise<{ message: StunMessage; bytes: Buffer }>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let attempt = 0;
      const finish = (): void => {
        clearTimeout(timer);
        limit.dispose();
        limit.signal.removeEventListener('abort', onAbort);
        this.pending.delete(key);
      };
      const onAbort = (): void => {
        finish();
        reject(limit.signal.reason as Error);
      };
      const transmit = (): void => {
        const waitMs = this.transmitRequest(bytes, attempt++);
        if (waitMs === undefined) return;
        timer = setTimeout(() => {
          if (attempt < UDP_MAX_SENDS) transmit();
          else {
            finish();
            reject(new TimeoutError(`TURN request got no response after ${attempt} sends`, timeoutMs));
          }
        }, waitMs);
      };
      this.pending.set(key, {
        resolve: (result) => {
          finish();
          resolve(result);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      });
      limit.signal.addEventListener('abort', onAbort, { once: true });
      transmit();
    });
  }

  /** Sends ChannelData; over TCP it is padded to a multiple of four bytes. */
  sendChannelData(header: Buffer, data: Buffer): void {
    const padding = this.reliable ? paddingFor(data.length) : 0;
    this.send(padding > 0 ? [header, data, Buffer.alloc(padding)] : [header, data]);
  }

  protected receive(bytes: Buffer): void {
    if ((bytes[0]! & 0xc0) === 0x40) {
      const channelData = parseChannelData(bytes);
      if (channelData) this.emit('channel-data', channelData.channel, channelData.data);
      return;
    }
    let message: StunMessage;
    try {
      message = decodeMessage(bytes, { requireMagicCookie: true });
    } catch (error) {
      this.logger.debug({ event: 'turn-bad-message', err: (error as Error).message }, 'undecodable message from TURN server');
      return;
    }
    if (message.cls === StunClass.Indication) {
      this.emit('indication', message);
      return;
    }
    this.pending.get(message.transactionId.toString('hex'))?.resolve({ message, bytes });
  }

  protected failAll(error: Error): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }
}

export class UdpControlTransport extends ControlTransport {
  readonly reliable = false;
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket, logger: Logger) {
    super(logger);
    this.#socket = socket;
    socket.on('message', (bytes) => this.receive(bytes));
    socket.on('error', (error) => this.logger.warn({ event: 'turn-udp-error', err: error.message }, 'TURN UDP socket error'));
  }

  static async open(server: { host: string; port: number }, logger: Logger, localAddress?: string): Promise<UdpControlTransport> {
    const address = net.isIP(server.host) ? server.host : (await (await import('node:dns/promises')).lookup(server.host)).address;
    const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, address: localAddress }, () => {
        // Connected: sends need no address and only the server's datagrams are received.
        socket.connect(server.port, address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    });
    return new UdpControlTransport(socket, logger);
  }

  local(): TransportAddress {
    const { address, port, family } = this.#socket.address();
    return { address, port, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  send(chunks: Buffer[]): void {
    if (this.closed) return;
    this.#socket.send(chunks, (error) => {
      if (error) this.logger.debug({ event: 'turn-send-failed', err: error.message }, 'TURN UDP send failed');
    });
  }

  protected transmitRequest(bytes: Buffer, attempt: number): number {
    this.send([bytes]);
    return attempt === UDP_MAX_SENDS - 1 ? UDP_RTO_MS * UDP_LAST_WAIT_FACTOR : UDP_RTO_MS * 2 ** attempt;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new TurnClosedError('TURN client closed'));
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.emit('close');
  }
}

/**
 * A control connection over a stream, TCP or TLS (`turns:`, RFC 8656 §3.1): messages are framed
 * (§12.5) and never retransmitted; the transport itself is reliable.
 */
export class StreamControlTransport extends ControlTransport {
  readonly reliable = true;
  readonly #socket: net.Socket;
  readonly #frames = new StreamFrames();

  /** Connects over TCP, or over verified TLS when `tlsOptions` is given. */
  static async open(server: { host: string; port: number }, tlsOptions: TurnTlsOptions | undefined, logger: Logger, signal?: AbortSignal, timeoutMs = 10_000): Promise<StreamControlTransport> {
    return new StreamControlTransport(await connectToServer(server, tlsOptions, signal, timeoutMs), logger);
  }

  private constructor(socket: net.Socket, logger: Logger) {
    super(logger);
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.logger.debug({ event: 'turn-stream-error', err: error.message }, 'TURN control connection error'));
    socket.on('close', () => {
      const wasClosed = this.closed;
      this.closed = true;
      const error = new TurnClosedError('TURN server closed the control connection');
      this.failAll(error);
      this.emit('close', wasClosed ? undefined : error);
    });
  }

  local(): TransportAddress {
    return { address: this.#socket.localAddress!, port: this.#socket.localPort!, family: this.#socket.localFamily === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  send(chunks: Buffer[]): void {
    if (this.closed) return;
    for (const chunk of chunks) this.#socket.write(chunk);
  }

  protected transmitRequest(bytes: Buffer): undefined {
    this.send([bytes]);
    return undefined;
  }

  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    this.closed = true;
    const closed = new Promise((resolve) => this.#socket.once('close', resolve));
    this.#socket.end();
    this.#socket.destroySoon();
    await closed;
  }

  #onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.#frames.push(chunk);
    } catch (error) {
      this.#socket.destroy(error as Error);
      return;
    }
    for (const frame of frames) this.receive(frame);
  }
}
