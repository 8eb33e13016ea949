import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TransportAddress } from '../codec/index.js';
import { AbortedError, InvalidArgumentError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { DEFAULT_STUN_PORT, type RetransmitOptions } from '../stun/index.js';
import { formatAddress } from './address.js';
import { readCachedProfile, writeCachedProfile, type ProfileCacheKey } from './cache.js';
import { DiscoveryResolveError } from './errors.js';
import type { MappingLifetimeOptions } from './lifetime-probe.js';
import { interfaceAddresses, routeSourceAddress } from './local-address.js';
import type { ProbeContext } from './probe-context.js';
import { NAT_PROFILE_VERSION, type NatProfile } from './profile.js';
import type { StepListener } from './steps.js';
import { probeTcp } from './tcp-probe.js';
import { probeUdp } from './udp-probe.js';

/** Each probe waits at most this long for its answer; silence tests (filtering, hairpinning) wait exactly this long. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 1000;
/**
 * TCP probes expect an answer, never silence, so a generous deadline costs nothing when the server
 * answers; it covers one lost SYN (Linux retransmits after 1 s) on a busy host.
 */
export const DEFAULT_DISCOVERY_TCP_TIMEOUT_MS = 3000;
/** RFC 5780 servers listen on the primary port + 1 unless they say otherwise (OTHER-ADDRESS). */
const ALT_PORT_OFFSET = 1;

export type DiscoveryTransport = 'udp' | 'tcp';

export interface DiscoverNatOptions {
  /** The STUN server (RFC 5780 capable for the behaviour tests). port @default 3478 */
  server: { host: string; port?: number };
  /**
   * The server's alternate address, for servers that send no OTHER-ADDRESS.
   * @default OTHER-ADDRESS from the server's first answer (port @default OTHER-ADDRESS's, else server port + 1)
   */
  altServer?: { host: string; port?: number };
  /** @default ['udp', 'tcp'] */
  transports?: ReadonlyArray<DiscoveryTransport>;
  /**
   * Per probe deadline in ms. Tests that expect silence (filtering, hairpinning) listen this long,
   * or 4 test I round trips when that is longer. @default 1000
   */
  timeoutMs?: number;
  /** Per TCP connect deadline in ms. @default 3000 */
  tcpTimeoutMs?: number;
  /** UDP retransmissions within each probe. @default the STUN client's (RTO 500 ms, Rc 7, Rm 16) */
  retransmit?: RetransmitOptions;
  signal?: AbortSignal;
  /**
   * Also measure how long an idle UDP mapping survives (RFC 5780 section 4.6). Slow by nature:
   * discovery then takes up to `maxMs`. `true` means the defaults. @default false
   */
  mappingLifetime?: boolean | MappingLifetimeOptions;
  /** XSTUNT's fingerprint.dat: reuse a matching profile from this file and store new ones in it. @default no cache */
  cachePath?: string;
  /** @default 3600000 (1 hour) */
  cacheMaxAgeMs?: number;
  /** Injected: where diagnostics go. @default silentLogger */
  logger?: Logger;
  /** Injected: called after each probe (and on a cache hit), for progress displays. */
  onStep?: StepListener;
}

/**
 * Learns the NAT behaviour between this host and `server`: RFC 5780 mapping, filtering and
 * hairpinning plus the RFC 3489 name over UDP, XSTUNT's fingerprint over TCP, both at once.
 * Results the probes cannot support are 'unknown', with the evidence in the profile.
 */
export async function discoverNat(options: DiscoverNatOptions): Promise<NatProfile> {
  const startedAt = performance.now();
  const transports = checkOptions(options);
  const logger = options.logger ?? silentLogger;
  const onStep: StepListener = (step) => {
    logger.debug({ ...step }, 'discovery step');
    options.onStep?.(step);
  };
  const signal = options.signal ?? new AbortController().signal;
  const serverPort = options.server.port ?? DEFAULT_STUN_PORT;
  const primary = await resolve(options.server.host, serverPort, signal);
  const altServer = options.altServer ? await resolve(options.altServer.host, options.altServer.port ?? serverPort + ALT_PORT_OFFSET, signal) : undefined;
  const routeLocal = await routeSourceAddress(primary, logger);
  const cacheKey: ProfileCacheKey = { server: formatAddress({ host: options.server.host, port: serverPort }), localAddress: routeLocal };

  if (options.cachePath) {
    const cached = await readCachedProfile(options.cachePath, cacheKey, { maxAgeMs: options.cacheMaxAgeMs, transports, logger });
    if (cached) {
      onStep({ transport: 'cache', test: 'cache', outcome: 'hit', elapsedMs: Math.round(performance.now() - startedAt), detail: options.cachePath });
      return cached;
    }
  }

  const context: ProbeContext = {
    primary,
    altServer,
    routeLocal,
    timeoutMs: options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS,
    tcpTimeoutMs: options.tcpTimeoutMs ?? DEFAULT_DISCOVERY_TCP_TIMEOUT_MS,
    lifetime: options.mappingLifetime === true ? {} : options.mappingLifetime || undefined,
    retransmit: options.retransmit ?? {},
    signal,
    startedAt,
    onStep,
    logger,
  };
  let reportOther!: (other: TransportAddress | undefined) => void;
  const udpOther = new Promise<TransportAddress | undefined>((resolveOther) => {
    reportOther = resolveOther;
  });
  if (!transports.includes('udp')) reportOther(undefined);
  // UDP and TCP use separate sockets and NAT mappings, so they run side by side.
  const [udp, tcp] = await Promise.all([
    transports.includes('udp') ? probeUdp(context, reportOther).finally(() => reportOther(undefined)) : undefined,
    transports.includes('tcp') ? probeTcp(context, udpOther) : undefined,
  ]);
  if (signal.aborted) throw new AbortedError('NAT discovery aborted', { cause: signal.reason });

  const profile: NatProfile = {
    version: NAT_PROFILE_VERSION,
    server: { host: options.server.host, port: serverPort },
    altServer: altServer ?? otherAddressSeen([...(udp?.evidence.observations ?? []), ...(tcp?.evidence.observations ?? [])]) ?? null,
    measuredAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - startedAt),
    local: { address: routeLocal, interfaces: interfaceAddresses() },
  };
  if (udp) profile.udp = udp;
  if (tcp) profile.tcp = tcp;
  logger.debug({ durationMs: profile.durationMs, rfc3489Type: udp?.rfc3489Type, tcpKind: tcp?.kind }, 'NAT discovery done');
  if (options.cachePath) {
    try {
      await writeCachedProfile(options.cachePath, cacheKey, profile);
    } catch (error) {
      logger.warn({ path: options.cachePath, err: error }, 'cannot write the NAT profile cache');
    }
  }
  return profile;
}

function checkOptions(options: DiscoverNatOptions): ReadonlyArray<DiscoveryTransport> {
  if (!options?.server?.host) throw new InvalidArgumentError('discoverNat: server.host is required');
  for (const [name, port] of [['server.port', options.server.port], ['altServer.port', options.altServer?.port]] as const) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new InvalidArgumentError(`discoverNat: ${name} must be an integer in 1..65535, got ${port}`);
    }
  }
  for (const [name, value] of [['timeoutMs', options.timeoutMs], ['tcpTimeoutMs', options.tcpTimeoutMs]] as const) {
    if (value !== undefined && !(value > 0 && Number.isFinite(value))) {
      throw new InvalidArgumentError(`discoverNat: ${name} must be a positive number, got ${value}`);
    }
  }
  const lifetime = typeof options.mappingLifetime === 'object' ? options.mappingLifetime : {};
  for (const [name, value] of [['firstCheckMs', lifetime.firstCheckMs], ['maxMs', lifetime.maxMs]] as const) {
    if (value !== undefined && !(value > 0 && Number.isFinite(value))) {
      throw new InvalidArgumentError(`discoverNat: mappingLifetime.${name} must be a positive number, got ${value}`);
    }
  }
  const transports = options.transports ?? ['udp', 'tcp'];
  if (transports.length === 0 || transports.some((transport) => transport !== 'udp' && transport !== 'tcp')) {
    throw new InvalidArgumentError(`discoverNat: transports must be a non-empty list of 'udp' and 'tcp', got ${JSON.stringify(transports)}`);
  }
  if (options.signal?.aborted) throw new AbortedError('NAT discovery aborted', { cause: options.signal.reason });
  return transports;
}

async function resolve(host: string, port: number, signal: AbortSignal): Promise<TransportAddress> {
  const family = isIP(host);
  if (family !== 0) return { family: family === 6 ? 'IPv6' : 'IPv4', address: host, port };
  try {
    const found = await lookup(host);
    if (signal.aborted) throw new AbortedError('NAT discovery aborted', { cause: signal.reason });
    return { family: found.family === 6 ? 'IPv6' : 'IPv4', address: found.address, port };
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    throw new DiscoveryResolveError(host, { cause: error });
  }
}

/** The alternate address the probes actually used: the destination of the alternate-address, alternate-port test. */
function otherAddressSeen(observations: ReadonlyArray<{ test: string; server: TransportAddress }>): TransportAddress | undefined {
  return observations.find((observation) => observation.test === 'udp-mapping-3' || observation.test === 'tcp-same-port-3')?.server;
}
