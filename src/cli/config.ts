import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DEFAULT_BROKER_PORT } from '../broker/index.js';
import { InvalidArgumentError, NtcpError } from '../errors.js';
import type { RelayMode } from '../peer/index.js';
import { RELAY_MODES } from '../peer/index.js';
import { DEFAULT_RELAY_PORT, type RelayLimits } from '../relay/index.js';
import { DEFAULT_STUN_ALT_PORT, DEFAULT_STUN_PORT } from '../stun/index.js';
import type { PeerFlags } from './peer-session.js';
import type { TurnFlags } from './turn-flags.js';

/** The environment variable naming a config file when `--config` is not given. */
export const CONFIG_ENV = 'NTCP_CONFIG';
/** A config file is a few hundred bytes; anything this large is not one. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/** A config file that cannot be read, is not JSON, or does not match the schema (`file`, `key`). */
export class ConfigError extends NtcpError {
  readonly file: string;
  /** The dotted path of the offending key ('server.port'), or undefined when the whole file is at fault. */
  readonly key: string | undefined;

  constructor(file: string, key: string | undefined, problem: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', `${file}: ${key === undefined ? '' : `${key}: `}${problem}`, options);
    this.file = file;
    this.key = key;
  }
}

const port = z.number().int().min(0).max(65535);
const positiveMs = z.number().positive().finite();

const ServerSection = z.strictObject({
  /** Primary address of STUN, broker and relay. No default: `--host` or this is required. */
  host: z.string().min(1).optional(),
  /** Alternate STUN address (full RFC 5780 discovery). */
  altHost: z.string().min(1).optional(),
  /** @default 3478 */
  port: port.optional(),
  /** @default 3479 */
  altPort: port.optional(),
  /** @default 8123 */
  brokerPort: port.optional(),
  /** The broker serves TLS with these PEM files (paths), as `--broker-tls-cert` / `--broker-tls-key`. @default plain TCP */
  brokerTls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  relay: z.strictObject({
    /** @default true */
    enabled: z.boolean().optional(),
    /** TCP and UDP port of the built-in relay. @default 3480 */
    port: port.optional(),
    /** The relay's bounds (file only, no flags). @default DEFAULT_RELAY_LIMITS */
    limits: z.strictObject({
      maxSessions: z.number().int().positive().optional(),
      idleTimeoutMs: positiveMs.optional(),
      bytesPerSecond: z.number().int().positive().optional(),
    }).optional(),
  }).optional(),
  limits: z.strictObject({
    /** Broker connection limit. @default the broker's (50000) */
    maxPeers: z.number().int().positive().optional(),
  }).optional(),
  /** Token management queries must carry. @default none required */
  queryToken: z.string().min(1).optional(),
});

const PeerSection = z.strictObject({
  /** 'HOST' or 'HOST:BROKER_PORT' of `ntcp server`. */
  server: z.string().min(1).optional(),
  /** The server's STUN port. @default 3478 */
  stunPort: z.number().int().min(1).max(65535).optional(),
  /** Reach the broker over TLS, as `--broker-tls`. @default false */
  brokerTls: z.boolean().optional(),
  /** PEM file of the CA of the broker's certificate, as `--broker-ca`. @default the system's root CAs */
  brokerCa: z.string().min(1).optional(),
  /** The id to register. */
  id: z.string().min(1).optional(),
  /** The transport `listen` accepts and `connect` dials (`--udp` picks 'udp'). @default 'tcp' */
  transport: z.enum(['tcp', 'udp']).optional(),
  /** @default 'auto' */
  relay: z.enum(RELAY_MODES as unknown as [RelayMode, ...RelayMode[]]).optional(),
  /** TURN relaying, as the `--turn*` flags: url with user+password, or url with secret (and user). */
  turn: z.strictObject({
    url: z.string().min(1),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    /** PEM file of the CA of a turns: server, as `--turn-ca`. @default the system's root CAs */
    ca: z.string().min(1).optional(),
  }).optional(),
  timeouts: z.strictObject({
    /** `connect` deadline. @default 20000 */
    connectMs: positiveMs.optional(),
    /** Per-probe deadline of NAT discovery. @default 1000 */
    probeMs: positiveMs.optional(),
  }).optional(),
});

const ConfigSchema = z.strictObject({
  server: ServerSection.optional(),
  peer: PeerSection.optional(),
});

export type NtcpConfig = z.infer<typeof ConfigSchema>;
export type ServerConfig = z.infer<typeof ServerSection>;
export type PeerConfig = z.infer<typeof PeerSection>;

/** Validates a config file's text; `file` only names it in errors. */
export function parseConfig(text: string, file: string): NtcpConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, undefined, `not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const result = ConfigSchema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = [...at, issue.keys[0] ?? ''].join('.');
    throw new ConfigError(file, key, 'unknown key', { cause: result.error });
  }
  throw new ConfigError(file, at.length === 0 ? undefined : at.join('.'), issue.message, { cause: result.error });
}

/**
 * The config of `path`, else of $NTCP_CONFIG, else the empty config (every value then comes from
 * the flags or the embedded defaults). Rejects with ConfigError (ERR_CONFIG).
 */
export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<NtcpConfig> {
  const file = path ?? env[CONFIG_ENV];
  if (file === undefined || file === '') return {};
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ConfigError(file, undefined, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  if (bytes.length > MAX_CONFIG_BYTES) throw new ConfigError(file, undefined, `larger than ${MAX_CONFIG_BYTES} bytes`);
  return parseConfig(bytes.toString('utf8'), file);
}

/** Command-line values win over the file's; undefined flags (not given) leave the file's value. */
export function withFlags<T extends object>(fromFile: T, flags: Partial<T>): T {
  const merged: Record<string, unknown> = { ...(fromFile as Record<string, unknown>) };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value;
  return merged as T;
}

/** `ntcp server`'s values after the file and the flags, with the embedded defaults. */
export interface ServerSettings {
  host: string;
  altHost?: string;
  port: number;
  altPort: number;
  brokerPort: number;
  relay: boolean;
  relayPort: number;
  /** Only from the file (`server.relay.limits`). */
  relayLimits?: Partial<RelayLimits>;
  maxPeers?: number;
  queryToken?: string;
  /** PEM files of the broker's TLS certificate and key: both or neither. */
  brokerTlsCert?: string;
  brokerTlsKey?: string;
}

/** The flags of `ntcp server` that were given on the command line (undefined: not given). */
export type ServerFlags = Partial<ServerSettings>;

export const SERVER_DEFAULTS = {
  port: DEFAULT_STUN_PORT, altPort: DEFAULT_STUN_ALT_PORT, brokerPort: DEFAULT_BROKER_PORT, relay: true, relayPort: DEFAULT_RELAY_PORT,
} as const;

export function resolveServerSettings(section: ServerConfig | undefined, flags: ServerFlags): ServerSettings {
  const fromFile: ServerFlags = {
    host: section?.host, altHost: section?.altHost, port: section?.port, altPort: section?.altPort, brokerPort: section?.brokerPort,
    relay: section?.relay?.enabled, relayPort: section?.relay?.port, relayLimits: section?.relay?.limits, maxPeers: section?.limits?.maxPeers, queryToken: section?.queryToken,
    brokerTlsCert: section?.brokerTls?.cert, brokerTlsKey: section?.brokerTls?.key,
  };
  const merged = withFlags(withFlags<ServerFlags>(SERVER_DEFAULTS, fromFile), flags);
  if (merged.host === undefined) throw new InvalidArgumentError('--host (or server.host in a config file) is required');
  return merged as ServerSettings;
}

/** `ntcp listen` / `ntcp connect` flags given on the command line (undefined: not given). */
export type PeerCommandFlags = Partial<PeerFlags> & TurnFlags & { timeout?: number };

/** The same after the file's `peer` section: server and id are then known. */
export type PeerSettings = PeerFlags & TurnFlags & { timeout?: number };

export function resolvePeerSettings(section: PeerConfig | undefined, flags: PeerCommandFlags): PeerSettings {
  const fromFile: PeerCommandFlags = {
    server: section?.server, id: section?.id, stunPort: section?.stunPort, relay: section?.relay, brokerTls: section?.brokerTls, brokerCa: section?.brokerCa,
    udp: section?.transport === undefined ? undefined : section.transport === 'udp',
    turn: section?.turn?.url, turnUser: section?.turn?.user, turnPass: section?.turn?.password, turnSecret: section?.turn?.secret, turnCa: section?.turn?.ca,
    timeout: section?.timeouts?.connectMs, probeTimeout: section?.timeouts?.probeMs,
  };
  const merged = withFlags(fromFile, flags);
  if (merged.server === undefined) throw new InvalidArgumentError('--server (or peer.server in a config file) is required');
  if (merged.id === undefined) throw new InvalidArgumentError('--id (or peer.id in a config file) is required');
  return merged as PeerSettings;
}
