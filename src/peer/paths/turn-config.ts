import { InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { TurnClient, turnRestCredentials, type TurnCredentials, type TurnServerAddress, type TurnTlsOptions } from '../../relay/index.js';
import { parseTurnUrl } from './turn-url.js';

/** How to trust a `turns:` server (the relay layer's TLS options); refused with a `turn:` URL, where it would mean nothing. */
export type TurnTlsTrust = TurnTlsOptions;

/**
 * A TURN server (coturn or any RFC 8656 server) to relay through instead of the built-in relay:
 * long-term credentials, or the shared secret of coturn's `--use-auth-secret` ("TURN REST"), from
 * which fresh credentials are derived for each allocation. A `turns:` URL talks TLS to it.
 */
export type TurnOption = TurnTlsTrust & (
  | { url: string; username: string; password: string }
  | {
    url: string;
    secret: string;
    /** The user part of the REST username. @default 'ntcp' */
    user?: string;
    /** Lifetime of derived credentials. @default 86400 */
    ttlSeconds?: number;
  });

/** A validated TurnOption. */
export interface TurnSettings {
  server: TurnServerAddress;
  /** The URL's transport; TCP relaying (RFC 6062) always talks TCP (or TLS, for turns:) to the server. */
  transport: 'udp' | 'tcp';
  /** Present for `turns:`: every connection to the server is TLS, verified this way. */
  tls?: TurnTlsOptions;
  credentials(): TurnCredentials;
}

function nonEmpty(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidArgumentError(`turn.${name} must be a non-empty string`);
  return value;
}

/** Validates `option` up front, so a typo fails at register time rather than at the first relayed connect. */
export function turnSettings(option: TurnOption): TurnSettings {
  const url = parseTurnUrl(nonEmpty(option.url, 'url'));
  const server = { host: url.host, port: url.port };
  const tls = tlsTrust(option, url.secure);
  const connection = { server, transport: url.transport, ...(tls ? { tls } : {}) };
  if ('secret' in option) {
    const secret = nonEmpty(option.secret, 'secret');
    const user = option.user === undefined ? undefined : nonEmpty(option.user, 'user');
    if (option.ttlSeconds !== undefined && !(Number.isInteger(option.ttlSeconds) && option.ttlSeconds > 0)) {
      throw new InvalidArgumentError(`turn.ttlSeconds must be a positive integer, got ${option.ttlSeconds}`);
    }
    return {
      ...connection,
      credentials: () => turnRestCredentials({ secret, ...(user ? { user } : {}), ...(option.ttlSeconds ? { ttlSeconds: option.ttlSeconds } : {}) }),
    };
  }
  const username = nonEmpty(option.username, 'username');
  const password = nonEmpty(option.password, 'password');
  return { ...connection, credentials: () => ({ username, password }) };
}

function tlsTrust(option: TurnTlsTrust, secure: boolean): TurnTlsOptions | undefined {
  const { ca, rejectUnauthorized } = option;
  if (!secure) {
    if (ca !== undefined || rejectUnauthorized !== undefined) throw new InvalidArgumentError('turn.ca and turn.rejectUnauthorized need a turns: URL');
    return undefined;
  }
  const pems = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca];
  if (ca !== undefined && (pems.length === 0 || !pems.every((pem) => (typeof pem === 'string' || Buffer.isBuffer(pem)) && pem.length > 0))) {
    throw new InvalidArgumentError('turn.ca must be PEM text or a Buffer (or a non-empty array of them)');
  }
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') throw new InvalidArgumentError('turn.rejectUnauthorized must be a boolean');
  return { ...(ca === undefined ? {} : { ca: Array.isArray(ca) ? [...ca] : ca }), ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }) };
}

/** Opens a control connection to the configured server and allocates a relayed address for `relayTransport`. */
export async function allocateRelay(settings: TurnSettings, relayTransport: 'udp' | 'tcp', options: { timeoutMs: number; signal: AbortSignal; logger: Logger }): Promise<TurnClient> {
  const client = await TurnClient.connect({
    server: settings.server,
    transport: settings.tls ? 'tls' : relayTransport === 'tcp' ? 'tcp' : settings.transport,
    ...(settings.tls ? { tls: settings.tls } : {}),
    credentials: settings.credentials(),
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  }, { logger: options.logger });
  try {
    await client.allocate({ relayTransport, signal: options.signal });
    return client;
  } catch (error) {
    await client.close();
    throw error;
  }
}
