import type { PunchPort } from '../broker/index.js';
import type { Logger } from '../observe/logger.js';
import { armTcpPort, type ReadyTcpPort } from '../punch/tcp/ready-port.js';

/**
 * Re-armed this often while unused. The mapping must outlive the gap between arming and use: after
 * the probe's connection closed, RFC 5382 NATs keep it at least 4 minutes and Linux conntrack
 * 2 minutes (TIME_WAIT), so a fresh one every 30 s is always well inside both.
 */
export const TCP_PUNCH_PORT_REFRESH_MS = 30_000;
/** Arming probe deadline. */
export const TCP_PUNCH_PORT_PROBE_TIMEOUT_MS = 2_000;
/** Ports armed lately, remembered for a coordination that names one after it was replaced. */
const RECENT_PORTS = 4;

export interface TcpPunchPortDeps {
  stunServer: { host: string; port: number };
  localAddress: string;
  /** Tells the broker (BrokerClient.advertisePunchPort). */
  advertise: (port: PunchPort | undefined) => void;
  logger: Logger;
  /** @default TCP_PUNCH_PORT_REFRESH_MS */
  refreshMs?: number;
}

/**
 * Keeps one TCP port ready to punch from, its mapping known to the broker, so a TCP connection
 * behind an endpoint-independent mapping NAT starts with its first SYN: the broker hands the
 * port to both sides in the coordination. Each connection uses the port it was advertised with;
 * a new one is armed (probed, advertised) in the background right after, and every
 * `refreshMs` while unused, so the mapping the peer is told is never stale.
 */
export class TcpPunchPortKeeper {
  readonly #deps: TcpPunchPortDeps;
  readonly #timer: NodeJS.Timeout;
  readonly #recent: ReadyTcpPort[] = [];
  readonly #closing = new AbortController();
  #current: ReadyTcpPort | undefined;
  #arming: Promise<void> | undefined;

  constructor(deps: TcpPunchPortDeps) {
    this.#deps = deps;
    this.#timer = setInterval(() => void this.rearm(), deps.refreshMs ?? TCP_PUNCH_PORT_REFRESH_MS);
    this.#timer.unref();
  }

  /** The port advertised now, if any. */
  get current(): ReadyTcpPort | undefined {
    return this.#current;
  }

  /** Arms a new port and advertises it; failures are logged (connections then probe per connect). */
  rearm(): Promise<void> {
    this.#arming ??= this.#arm().finally(() => {
      this.#arming = undefined;
    });
    return this.#arming;
  }

  /**
   * A coordination names `hostPort` as this side's punching port: it is in use from now on, so
   * it is withdrawn and a new one armed. Returns what arming learnt about it, when it was ours.
   */
  use(hostPort: number): ReadyTcpPort | undefined {
    const known = this.#recent.find((ready) => ready.port === hostPort);
    if (this.#current?.port === hostPort) {
      this.#current = undefined;
      this.#deps.advertise(undefined);
      void this.rearm();
    }
    return known;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#closing.abort();
    if (this.#current) this.#deps.advertise(undefined);
    this.#current = undefined;
  }

  async #arm(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    try {
      const ready = await armTcpPort({
        stunServer: this.#deps.stunServer, localAddress: this.#deps.localAddress,
        timeoutMs: TCP_PUNCH_PORT_PROBE_TIMEOUT_MS, signal: this.#closing.signal,
      });
      if (this.#closing.signal.aborted) return;
      this.#current = ready;
      this.#recent.unshift(ready);
      this.#recent.length = Math.min(this.#recent.length, RECENT_PORTS);
      this.#deps.advertise({ address: ready.mapped.address, port: ready.mapped.port, hostPort: ready.port });
      this.#deps.logger.debug({ port: ready.port, mapped: ready.mapped }, 'TCP punching port ready');
    } catch (error) {
      if (this.#closing.signal.aborted) return;
      this.#deps.logger.warn({ err: error }, 'could not arm a TCP punching port: TCP connects probe a fresh port each');
    }
  }
}
