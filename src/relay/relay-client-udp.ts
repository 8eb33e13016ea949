import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { TransportAddress } from '../codec/index.js';
import { InvalidArgumentError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { AttachStatus, RelayAttachError } from './errors.js';
import { encodeUdpAttach, parseUdp, UDP_CLOSE, UDP_DATA_HEADER, UDP_KEEPALIVE, UdpType } from './attach-protocol.js';
import { deadline } from './abort.js';
import { DEFAULT_ATTACH_TIMEOUT_MS } from './relay-client-tcp.js';

export interface AttachUdpOptions {
  host: string;
  port: number;
  token: string;
  /** A bound socket to use (it stays open on close); without it a fresh one is bound and closed. */
  socket?: dgram.Socket;
  signal?: AbortSignal;
  /** Covers the attach exchange and waiting for the other peer. @default 30000 */
  timeoutMs?: number;
  /** Attach datagrams are resent this often until the relay answers Ok (UDP may drop them). @default 250 */
  retransmitMs?: number;
  /** A keepalive goes out when nothing was sent for this long (holds NAT mappings and the session). @default 15000 */
  keepaliveMs?: number;
  /** Path MTU toward the relay; bounds `maxDatagramSize`. @default 1280 */
  pathMtu?: number;
  /**
   * Gives up with ERR_RELAY_UDP_UNANSWERED when the relay answered none of the attach datagrams
   * (not even Waiting) in this time: UDP to the relay is probably blocked. @default no such limit
   */
  answerTimeoutMs?: number;
}

export interface AttachUdpComponents {
  /** @default silentLogger */
  logger?: Logger;
}

const DEFAULT_RETRANSMIT_MS = 250;
const DEFAULT_KEEPALIVE_MS = 15_000;
const DEFAULT_PATH_MTU = 1280;
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const UDP_HEADER_LENGTH = 8;

export interface RelayUdpChannelEvents {
  message: [payload: Buffer];
  /** `remote`: the relay ended the session (the other peer left, idle timeout, relay shutdown). */
  close: [event: { reason: 'local' | 'remote' }];
}

/**
 * One peer's end of a relayed UDP session: `send` a datagram to the other peer, 'message' for
 * theirs, `close` to end the session for both. Keepalives run while it is open. It has the shape
 * of the peer layer's DatagramConnection (`remote` is the relay: the peer's address stays hidden).
 */
export class RelayUdpChannel extends EventEmitter<RelayUdpChannelEvents> {
  readonly attachment = 'udp' as const;
  readonly relay: { host: string; port: number };
  readonly local: TransportAddress;
  readonly remote: TransportAddress;
  /** Largest payload `send` accepts: the path MTU less IP, UDP and the relay's one-byte header. */
  readonly maxDatagramSize: number;
  readonly #socket: dgram.Socket;
  readonly #ownsSocket: boolean;
  readonly #token: string;
  readonly #keepalive: NodeJS.Timeout;
  readonly #logger: Logger;
  readonly #onMessage: (message: Buffer, rinfo: dgram.RemoteInfo) => void;
  #lastSent = Date.now();
  #closed = false;

  constructor(parts: { socket: dgram.Socket; ownsSocket: boolean; relay: { host: string; port: number }; token: string; keepaliveMs: number; pathMtu: number; logger: Logger; relayAddress: string }) {
    super();
    const { address, port, family } = parts.socket.address();
    this.local = { address, port, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
    this.remote = { address: parts.relayAddress, port: parts.relay.port, family: parts.relayAddress.includes(':') ? 'IPv6' : 'IPv4' };
    const ipHeader = this.remote.family === 'IPv6' ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
    this.maxDatagramSize = parts.pathMtu - ipHeader - UDP_HEADER_LENGTH - UDP_DATA_HEADER.length;
    this.#socket = parts.socket;
    this.#ownsSocket = parts.ownsSocket;
    this.relay = parts.relay;
    this.#token = parts.token;
    this.#logger = parts.logger;
    this.#onMessage = (message, rinfo) => {
      if (rinfo.address !== parts.relayAddress || rinfo.port !== parts.relay.port) return;
      const parsed = parseUdp(message);
      if (parsed.type === UdpType.Data) this.emit('message', message.subarray(1));
      else if (parsed.type === UdpType.Close) this.#finish('remote');
    };
    this.#socket.on('message', this.#onMessage);
    this.#keepalive = setInterval(() => {
      if (Date.now() - this.#lastSent >= parts.keepaliveMs) this.#transmit(UDP_KEEPALIVE);
    }, Math.max(1, Math.floor(parts.keepaliveMs / 2)));
    this.#keepalive.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(payload: Buffer | Uint8Array): void {
    if (this.#closed) throw new InvalidArgumentError('relay UDP channel is closed');
    if (payload.length > this.maxDatagramSize) {
      throw new InvalidArgumentError(`datagram of ${payload.length} bytes exceeds maxDatagramSize ${this.maxDatagramSize}`);
    }
    this.#transmit([UDP_DATA_HEADER, payload]);
  }

  /** Sends a fresh attach with this peer's token: after the local address changed (new socket or NAT rebinding). */
  reattach(): void {
    this.#transmit(encodeUdpAttach(this.#token));
  }

  /** Ends the session for both peers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => this.#socket.send(UDP_CLOSE, this.relay.port, this.relay.host, () => resolve()));
    this.#finish('local');
  }

  #finish(reason: 'local' | 'remote'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#socket.off('message', this.#onMessage);
    if (this.#ownsSocket) this.#socket.close();
    this.emit('close', { reason });
  }

  #transmit(bytes: Buffer | Array<Buffer | Uint8Array>): void {
    this.#lastSent = Date.now();
    this.#socket.send(bytes, this.relay.port, this.relay.host, (error) => {
      if (error) this.#logger.warn({ event: 'relay-udp-send-failed', err: error.message }, 'relay UDP send failed');
    });
  }
}

/**
 * Attaches to a built-in relay session over UDP and resolves, once the other peer is attached
 * too, with the channel. Rejects with RelayAttachError, TimeoutError or AbortedError.
 */
export async function attachUdp(options: AttachUdpOptions, components: AttachUdpComponents = {}): Promise<RelayUdpChannel> {
  let attach: Buffer;
  try {
    attach = encodeUdpAttach(options.token);
  } catch (error) {
    throw new InvalidArgumentError('relay token must be 1..255 bytes', { cause: error });
  }
  const socket = options.socket ?? (await bindFresh(options.host));
  const ownsSocket = !options.socket;
  const relayAddress = await resolveAddress(options.host);
  const relay = { host: relayAddress, port: options.port };
  const limit = deadline('relay UDP attach', options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS, options.signal);
  try {
    await new Promise<void>((resolve, reject) => {
      const retransmit = setInterval(send, options.retransmitMs ?? DEFAULT_RETRANSMIT_MS);
      const unanswered = options.answerTimeoutMs === undefined ? undefined : setTimeout(() => {
        done(new RelayAttachError('ERR_RELAY_UDP_UNANSWERED', `the relay answered no UDP attach within ${options.answerTimeoutMs} ms (UDP blocked?)`));
      }, options.answerTimeoutMs);
      const done = (error?: Error): void => {
        clearInterval(retransmit);
        clearTimeout(unanswered);
        socket.off('message', onMessage);
        limit.signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => done(limit.signal.reason as Error);
      const onMessage = (message: Buffer, rinfo: dgram.RemoteInfo): void => {
        if (rinfo.address !== relayAddress || rinfo.port !== options.port) return;
        const parsed = parseUdp(message);
        if (parsed.type !== UdpType.AttachReply) return;
        clearTimeout(unanswered);
        if (parsed.status === AttachStatus.Waiting) return;
        done(parsed.status === AttachStatus.Ok ? undefined : RelayAttachError.fromStatus(parsed.status));
      };
      function send(): void {
        socket.send(attach, options.port, relayAddress);
      }
      if (limit.signal.aborted) {
        onAbort();
        return;
      }
      limit.signal.addEventListener('abort', onAbort, { once: true });
      socket.on('message', onMessage);
      send();
    });
  } catch (error) {
    if (ownsSocket) socket.close();
    throw error;
  } finally {
    limit.dispose();
  }
  return new RelayUdpChannel({
    socket, ownsSocket, relay, token: options.token, relayAddress,
    keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS, pathMtu: options.pathMtu ?? DEFAULT_PATH_MTU, logger: components.logger ?? silentLogger,
  });
}

async function resolveAddress(host: string): Promise<string> {
  const { lookup } = await import('node:dns/promises');
  return (await lookup(host)).address;
}

async function bindFresh(host: string): Promise<dgram.Socket> {
  const address = await resolveAddress(host);
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
