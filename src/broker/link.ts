import net from 'node:net';
import tls from 'node:tls';
import { AbortedError, TimeoutError } from '../errors.js';
import { tlsClientOptions, type TlsTrust } from '../util/tls-client-options.js';
import { BrokerMessage, PROTOCOL_VERSION } from './protocol.js';
import { BadMessageError, BrokerConnectError, BrokerError, BrokerTlsError, errorFromReply } from './errors.js';
import { encodeFrame, FrameDecoder, parseFrameBody } from './framing.js';

/** Client-side frames are bounded too, but above the broker's (they carry profiles and query pages). */
export const DEFAULT_CLIENT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** How a client trusts a broker that serves TLS. */
export interface BrokerTlsOptions extends TlsTrust {
  /** The name the certificate must carry and SNI sends, when it differs from the host. @default the host (no SNI for an IP) */
  servername?: string;
}

export interface LinkOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** TLS to the broker (`true`: verified against Node's root CAs). @default false (plain TCP) */
  tls?: boolean | BrokerTlsOptions;
  maxFrameBytes: number;
  connectTimeoutMs: number;
  signal?: AbortSignal;
}

type MessageHandler = (message: BrokerMessage) => void;

/**
 * One TCP connection to the broker, hello done: frames in (validated) and out. Owners get each
 * broker message through `onMessage` and one `onClose` with the reason (undefined when clean).
 */
export class BrokerLink {
  readonly socket: net.Socket;
  readonly heartbeatIntervalMs: number;
  readonly observed: { family: 'IPv4' | 'IPv6'; address: string; port: number };
  /** Optional protocol parts the broker announced in its welcome. */
  readonly features: readonly string[];
  onClose: (error: BrokerError | undefined) => void = () => undefined;
  #closeError: BrokerError | undefined;
  #onMessage: MessageHandler | undefined;
  /** Messages that came while no handler was set: the broker may send right behind its welcome. */
  readonly #held: BrokerMessage[] = [];

  private constructor(socket: net.Socket, welcome: Extract<BrokerMessage, { type: 'welcome' }>) {
    this.socket = socket;
    this.heartbeatIntervalMs = welcome.heartbeatIntervalMs;
    this.observed = welcome.observed;
    this.features = welcome.features ?? [];
  }

  /** Connects (TLS when asked) and says hello; rejects with ERR_CONNECT, ERR_BROKER_TLS, ERR_VERSION, ERR_TIMEOUT or ERR_ABORTED. */
  static open(options: LinkOptions): Promise<BrokerLink> {
    return new Promise((resolve, reject) => {
      const decoder = new FrameDecoder(options.maxFrameBytes);
      const trust = options.tls === true ? {} : options.tls === false ? undefined : options.tls;
      const socket = connectSocket(options, trust);
      let link: BrokerLink | undefined;
      let settled = false;
      const settle = (error: BrokerError | AbortedError | TimeoutError | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) {
          socket.destroy();
          reject(error);
        } else {
          resolve(link!);
        }
      };
      const timer = setTimeout(() => settle(new TimeoutError(`no answer from broker ${options.host}:${options.port}`, options.connectTimeoutMs)), options.connectTimeoutMs);
      const onAbort = (): void => settle(new AbortedError('connecting to the broker was aborted', { cause: options.signal?.reason }));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });

      let handshaking = false;
      const hello = (): void => {
        handshaking = false;
        socket.write(encodeFrame({ type: 'hello', version: PROTOCOL_VERSION, software: 'ntcp' }));
      };
      socket.on('connect', () => {
        socket.setNoDelay(true);
        if (trust) handshaking = true;
        else hello();
      });
      socket.on('secureConnect', hello);
      socket.on('error', (error) => {
        // Between TCP up and TLS up a failure is the handshake's: an untrusted certificate, most often.
        const wrapped = handshaking
          ? new BrokerTlsError(options, error)
          : new BrokerConnectError(`broker ${options.host}:${options.port}: ${error.message}`, { cause: error });
        if (!settled) settle(wrapped);
        else link?.destroy(wrapped);
      });
      socket.on('close', () => {
        // A TLS broker drops a plaintext hello without a word: say so, it is the likely cause.
        const hint = trust ? '' : ' (a broker that serves TLS does this: connect with tls)';
        if (!settled) settle(new BrokerConnectError(`broker ${options.host}:${options.port} closed the connection during hello${hint}`));
        else link?.onClose(link.#closeError);
      });
      socket.on('data', (chunk: Buffer) => {
        let messages: BrokerMessage[];
        try {
          messages = decoder.push(chunk).map(decodeMessage);
        } catch (error) {
          const typed = error instanceof BrokerError ? error : new BadMessageError('unreadable frame from broker', { cause: error });
          if (!settled) settle(typed);
          else link?.destroy(typed);
          return;
        }
        for (const message of messages) {
          if (link) {
            link.#deliver(message);
          } else if (message.type === 'welcome') {
            link = new BrokerLink(socket, message);
            settle(undefined);
          } else if (message.type === 'error') {
            settle(errorFromReply(message));
          } else {
            settle(new BadMessageError(`expected welcome from broker, got ${message.type}`));
          }
        }
      });
    });
  }

  /**
   * Where broker messages go. While none is set (before the owner's first, or `undefined` while it
   * hands the link over between awaits) messages are held and delivered, in order, to the next one.
   */
  set onMessage(handler: MessageHandler | undefined) {
    this.#onMessage = handler;
    // a handler may replace itself while draining: the new one drains the rest
    while (handler !== undefined && this.#onMessage === handler && this.#held.length > 0) handler(this.#held.shift()!);
  }

  #deliver(message: BrokerMessage): void {
    if (this.#onMessage === undefined) this.#held.push(message);
    else this.#onMessage(message);
  }

  send(message: object): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(message));
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }

  /** Closes, remembering why, so `onClose` reports it. */
  destroy(error?: BrokerError): void {
    if (error) this.#closeError ??= error;
    this.socket.destroy();
  }
}

function connectSocket(options: LinkOptions, trust: BrokerTlsOptions | undefined): net.Socket {
  const endpoint = { host: options.host, port: options.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
  return trust ? tls.connect({ ...endpoint, ...tlsClientOptions(options.host, trust) }) : net.connect(endpoint);
}

function decodeMessage(body: Buffer): BrokerMessage {
  const parsed = BrokerMessage.safeParse(parseFrameBody(body));
  if (!parsed.success) throw new BadMessageError(`invalid message from broker: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
  return parsed.data;
}
