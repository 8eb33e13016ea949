import net from 'node:net';
import { EventEmitter } from 'node:events';
import type { TransportAddress } from '../codec/index.js';
import { InvalidArgumentError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { AttachStatus, RelayAttachError, RelayClosedError } from './errors.js';
import { encodeUdpAttach, parseUdp, UDP_CLOSE, UDP_DATA_HEADER, UDP_KEEPALIVE, UdpType } from './attach-protocol.js';
import { DatagramFrameReader, encodeDatagramFrame } from './datagram-frames.js';
import { deadline } from './abort.js';
import { DEFAULT_ATTACH_TIMEOUT_MS, type AttachTcpOptions } from './relay-client-tcp.js';
import type { RelayUdpChannelEvents } from './relay-client-udp.js';

/** As for a stream attach, with `port` the relay's `datagramTcpPort`. */
export interface AttachDatagramTcpOptions extends AttachTcpOptions {
  /** A keepalive goes out when nothing was sent for this long (holds the relay session). @default 15000 */
  keepaliveMs?: number;
  /**
   * Sizes `maxDatagramSize` as a UDP attachment over this path MTU would, so a datagram that fits
   * here also fits the other peer's UDP attachment. @default 1280
   */
  pathMtu?: number;
}

export interface AttachDatagramTcpComponents {
  /** @default silentLogger */
  logger?: Logger;
}

const DEFAULT_KEEPALIVE_MS = 15_000;
const DEFAULT_PATH_MTU = 1280;
const IPV4_UDP_HEADERS = 20 + 8;
const IPV6_UDP_HEADERS = 40 + 8;
/**
 * Bytes waiting in the socket beyond which `send` drops datagrams (as a full UDP send queue
 * would) instead of buffering without bound behind a slow relay or peer.
 */
export const MAX_QUEUED_SEND_BYTES = 256 * 1024;

/**
 * One peer's end of a relayed UDP session attached over TCP, for networks that drop UDP: the same
 * surface as RelayUdpChannel (`send`, 'message', 'close', `maxDatagramSize`), the datagrams framed
 * on one TCP connection to the relay. Delivery stays datagram-like: a send that would queue more
 * than MAX_QUEUED_SEND_BYTES is dropped.
 */
export class RelayTcpDatagramChannel extends EventEmitter<RelayUdpChannelEvents> {
  readonly attachment = 'tcp' as const;
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  readonly maxDatagramSize: number;
  readonly #socket: net.Socket;
  readonly #reader: DatagramFrameReader;
  readonly #keepalive: NodeJS.Timeout;
  readonly #logger: Logger;
  #lastSent = Date.now();
  #closed = false;

  constructor(parts: { socket: net.Socket; reader: DatagramFrameReader; pending: Buffer[]; keepaliveMs: number; pathMtu: number; logger: Logger }) {
    super();
    const { socket } = parts;
    this.#socket = socket;
    this.#reader = parts.reader;
    this.#logger = parts.logger;
    this.local = address(socket.localAddress, socket.localPort);
    this.remote = address(socket.remoteAddress, socket.remotePort);
    const headers = this.remote.family === 'IPv6' ? IPV6_UDP_HEADERS : IPV4_UDP_HEADERS;
    this.maxDatagramSize = parts.pathMtu - headers - UDP_DATA_HEADER.length;
    socket.on('close', () => this.#finish('remote'));
    // Frames that came with the attach reply are handed out after the caller had a turn to listen.
    socket.pause();
    setImmediate(() => {
      for (const body of parts.pending) this.#receive(body);
      socket.on('data', (chunk: Buffer) => {
        for (const read of this.#reader.push(chunk)) {
          if (read.kind === 'invalid') return this.#violation(read.reason);
          this.#receive(read.body);
        }
      });
      socket.resume();
    });
    this.#keepalive = setInterval(() => {
      if (Date.now() - this.#lastSent >= parts.keepaliveMs) this.#transmit([UDP_KEEPALIVE]);
    }, Math.max(1, Math.floor(parts.keepaliveMs / 2)));
    this.#keepalive.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(payload: Buffer | Uint8Array): void {
    if (this.#closed) throw new InvalidArgumentError('relay datagram channel is closed');
    if (payload.length > this.maxDatagramSize) {
      throw new InvalidArgumentError(`datagram of ${payload.length} bytes exceeds maxDatagramSize ${this.maxDatagramSize}`);
    }
    if (this.#socket.writableLength > MAX_QUEUED_SEND_BYTES) {
      this.#logger.debug({ event: 'relay-datagram-dropped', queued: this.#socket.writableLength }, 'relay TCP queue full: datagram dropped');
      return;
    }
    this.#transmit([UDP_DATA_HEADER, payload]);
  }

  /** Ends the session for both peers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.#socket.end(encodeDatagramFrame([UDP_CLOSE]), () => resolve()));
    this.#finish('local');
  }

  #receive(body: Buffer): void {
    if (this.#closed) return;
    const parsed = parseUdp(body);
    if (parsed.type === UdpType.Data) this.emit('message', body.subarray(1));
    else if (parsed.type === UdpType.Close) this.#finish('remote');
    else if (parsed.type === UdpType.AttachReply && parsed.status !== AttachStatus.Ok && parsed.status !== AttachStatus.Waiting) {
      this.#logger.warn({ event: 'relay-datagram-refused', err: RelayAttachError.fromStatus(parsed.status) }, 'the relay ended the attachment');
      this.#finish('remote');
    } else if (parsed.type === 'invalid') this.#violation(parsed.reason);
  }

  #violation(reason: string): void {
    this.#logger.warn({ event: 'relay-datagram-malformed', reason }, 'the relay sent a malformed datagram frame');
    this.#finish('remote');
  }

  #finish(reason: 'local' | 'remote'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    if (reason === 'remote') this.#socket.destroy();
    this.emit('close', { reason });
  }

  #transmit(parts: Array<Buffer | Uint8Array>): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#lastSent = Date.now();
    this.#socket.write(encodeDatagramFrame(parts));
  }
}

/**
 * Attaches to a built-in relay UDP session over TCP (its `datagramTcpPort`) and resolves, once
 * the other peer is attached too (over UDP or TCP), with the channel. Rejects with
 * RelayAttachError (the relay's reason as `code`), RelayClosedError, TimeoutError or AbortedError.
 */
export async function attachDatagramTcp(options: AttachDatagramTcpOptions, components: AttachDatagramTcpComponents = {}): Promise<RelayTcpDatagramChannel> {
  let attach: Buffer;
  try {
    attach = encodeDatagramFrame([encodeUdpAttach(options.token)]);
  } catch (error) {
    throw new InvalidArgumentError('relay token must be 1..255 bytes', { cause: error });
  }
  const limit = deadline('relay datagram TCP attach', options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS, options.signal);
  const reader = new DatagramFrameReader();
  const logger = components.logger ?? silentLogger;
  const logError = (error: Error): void => logger.debug({ event: 'relay-datagram-socket-error', err: error.message }, 'relay datagram socket error');
  const { socket, pending } = await new Promise<{ socket: net.Socket; pending: Buffer[] }>((resolve, reject) => {
    const socket = net.connect({ host: options.host, port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    socket.setNoDelay(true);
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = (): void => fail(limit.signal.reason as Error);
    const onError = (error: Error): void => fail(new RelayClosedError(`relay connection failed: ${error.message}`, { cause: error }));
    const onClose = (): void => fail(new RelayClosedError('relay closed the connection during attach'));
    const onData = (chunk: Buffer): void => {
      const reads = reader.push(chunk);
      for (const [index, read] of reads.entries()) {
        if (read.kind === 'invalid') return fail(new RelayAttachError('ERR_RELAY_PROTOCOL', `relay sent a malformed frame: ${read.reason}`));
        const parsed = parseUdp(read.body);
        if (parsed.type === UdpType.Close) return fail(RelayAttachError.fromStatus(AttachStatus.SessionClosed));
        if (parsed.type !== UdpType.AttachReply) return fail(new RelayAttachError('ERR_RELAY_PROTOCOL', `relay sent frame type ${String(parsed.type)} before its attach reply`));
        if (parsed.status === AttachStatus.Waiting) continue;
        if (parsed.status !== AttachStatus.Ok) return fail(RelayAttachError.fromStatus(parsed.status));
        // The channel reports a later failure as a close; this listener keeps it from being unhandled.
        socket.on('error', logError);
        cleanup();
        const rest = reads.slice(index + 1).flatMap((next) => (next.kind === 'frame' ? [next.body] : []));
        resolve({ socket, pending: rest });
        return;
      }
    };
    const cleanup = (): void => {
      limit.signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    if (limit.signal.aborted) return onAbort();
    limit.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(attach);
  }).finally(() => limit.dispose());
  return new RelayTcpDatagramChannel({
    socket, reader, pending, keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS, pathMtu: options.pathMtu ?? DEFAULT_PATH_MTU, logger,
  });
}

function address(host: string | undefined, port: number | undefined): TransportAddress {
  const value = host ?? '0.0.0.0';
  return { address: value, port: port ?? 0, family: net.isIPv6(value) ? 'IPv6' : 'IPv4' };
}
