import type { TransportAddress } from '../codec/index.js';
import type { Logger } from '../observe/logger.js';
import { StunUdpSocket, udpBinding, type HostPort } from '../stun/index.js';

/** A bound UDP socket and the mapping the STUN server saw for it. */
export interface MappedSocket {
  socket: StunUdpSocket;
  mapped: TransportAddress;
}

/** Refresh the spare socket's mapping this often: well inside the ~60 s NATs keep idle UDP mappings. */
export const SPARE_REFRESH_MS = 20_000;
/** The STUN binding that learns a socket's mapping. */
export const MAPPING_PROBE_TIMEOUT_MS = 3_000;
const MAPPING_PROBE_RTO_MS = 200;

export interface UdpSocketPoolOptions {
  stunServer: HostPort;
  /** @default '0.0.0.0' */
  bindAddress?: string;
  logger: Logger;
  bindSocket?: (options: { address: string }) => Promise<StunUdpSocket>;
}

/**
 * Keeps one UDP socket bound with a known, fresh mapping ready, so a connection starts punching
 * at the broker's synchronised time instead of one STUN round trip later. Each connection takes
 * the spare (the punch engine owns it from then on) and a new spare is prepared behind it.
 */
export class UdpSocketPool {
  readonly #options: UdpSocketPoolOptions;
  readonly #bindSocket: (options: { address: string }) => Promise<StunUdpSocket>;
  #spare: Promise<MappedSocket> | undefined;
  #spareFailed = false;
  #refresh: NodeJS.Timeout | undefined;
  #closed = false;
  #answered: boolean | undefined;

  constructor(options: UdpSocketPoolOptions) {
    this.#options = options;
    this.#bindSocket = options.bindSocket ?? ((bind) => StunUdpSocket.bind(bind));
  }

  /**
   * Binds and probes the first spare; rejects when the STUN server cannot be reached over UDP.
   * The pool keeps refreshing (and retrying a failed spare) either way, until closed.
   */
  async start(): Promise<MappedSocket> {
    this.#replenish();
    const spare = this.#spare!;
    this.#refresh = setInterval(() => this.#refreshSpare(), SPARE_REFRESH_MS);
    this.#refresh.unref();
    return spare;
  }

  /**
   * Whether this pool's latest completed STUN binding was answered (undefined before the first
   * completed): the peer's own, current evidence that UDP to the STUN server works or not.
   */
  get udpAnswered(): boolean | undefined {
    return this.#answered;
  }

  /** A bound socket without a STUN probe, for paths that need no mapping (host candidates behind one NAT). */
  bindUnprobed(): Promise<StunUdpSocket> {
    return this.#bindSocket({ address: this.#options.bindAddress ?? '0.0.0.0' });
  }

  /** The spare socket, for the caller to own (a fresh one when the spare failed); a new spare is prepared at once. */
  async take(): Promise<MappedSocket> {
    const spare = this.#spare;
    this.#spare = undefined;
    this.#replenish();
    if (spare === undefined) return this.#bindAndProbe();
    return spare.catch(() => this.#bindAndProbe());
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refresh);
    const spare = this.#spare;
    this.#spare = undefined;
    const ready = await spare?.catch(() => undefined);
    await ready?.socket.close();
  }

  /** Only ever one spare: a second would never be closed. */
  #replenish(): void {
    if (this.#closed || this.#spare !== undefined) return;
    const spare = this.#bindAndProbe();
    this.#spareFailed = false;
    spare.catch((error: unknown) => {
      if (this.#spare === spare) this.#spareFailed = true;
      this.#options.logger.warn({ err: error }, 'spare UDP socket not ready');
    });
    this.#spare = spare;
  }

  async #bindAndProbe(): Promise<MappedSocket> {
    const socket = await this.#bindSocket({ address: this.#options.bindAddress ?? '0.0.0.0' });
    try {
      const binding = await this.#probe(socket);
      return { socket, mapped: binding.mapped };
    } catch (error) {
      await socket.close();
      throw error;
    }
  }

  async #probe(socket: StunUdpSocket) {
    try {
      const binding = await udpBinding({ server: this.#options.stunServer, socket, timeoutMs: MAPPING_PROBE_TIMEOUT_MS, rtoMs: MAPPING_PROBE_RTO_MS });
      this.#answered = true;
      return binding;
    } catch (error) {
      // A probe cut short by closing the pool says nothing about the network.
      if (!this.#closed) this.#answered = false;
      throw error;
    }
  }

  /**
   * A binding on the spare keeps its NAT mapping alive and notices when it changed. A spare that
   * failed is replaced, so UDP that comes back (or was only slow at start) is noticed.
   */
  #refreshSpare(): void {
    if (this.#spareFailed) {
      this.#spare = undefined;
      this.#replenish();
      return;
    }
    const spare = this.#spare;
    spare?.then(async (ready) => {
      const binding = await this.#probe(ready.socket);
      ready.mapped = binding.mapped;
    }).catch((error: unknown) => this.#options.logger.debug({ err: error }, 'spare UDP socket refresh failed'));
  }
}
