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
  #refresh: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: UdpSocketPoolOptions) {
    this.#options = options;
    this.#bindSocket = options.bindSocket ?? ((bind) => StunUdpSocket.bind(bind));
  }

  /** Binds and probes the first spare; rejects when the STUN server cannot be reached over UDP. */
  async start(): Promise<MappedSocket> {
    this.#replenish();
    const spare = await this.#spare!;
    this.#refresh = setInterval(() => this.#refreshSpare(), SPARE_REFRESH_MS);
    this.#refresh.unref();
    return spare;
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
    spare.catch((error: unknown) => this.#options.logger.warn({ err: error }, 'spare UDP socket not ready'));
    this.#spare = spare;
  }

  async #bindAndProbe(): Promise<MappedSocket> {
    const socket = await this.#bindSocket({ address: this.#options.bindAddress ?? '0.0.0.0' });
    try {
      const binding = await udpBinding({ server: this.#options.stunServer, socket, timeoutMs: MAPPING_PROBE_TIMEOUT_MS, rtoMs: MAPPING_PROBE_RTO_MS });
      return { socket, mapped: binding.mapped };
    } catch (error) {
      await socket.close();
      throw error;
    }
  }

  /** A binding on the spare keeps its NAT mapping alive and notices when it changed. */
  #refreshSpare(): void {
    const spare = this.#spare;
    spare?.then(async (ready) => {
      const binding = await udpBinding({ server: this.#options.stunServer, socket: ready.socket, timeoutMs: MAPPING_PROBE_TIMEOUT_MS, rtoMs: MAPPING_PROBE_RTO_MS });
      ready.mapped = binding.mapped;
    }).catch((error: unknown) => this.#options.logger.debug({ err: error }, 'spare UDP socket refresh failed'));
  }
}
