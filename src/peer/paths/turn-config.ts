import { InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../observe/logger.js';
import { TurnClient, turnRestCredentials, type TurnCredentials, type TurnServerAddress } from '../../relay/index.js';
import { parseTurnUrl } from './turn-url.js';

/**
 * A TURN server (coturn or any RFC 8656 server) to relay through instead of the built-in relay:
 * long-term credentials, or the shared secret of coturn's `--use-auth-secret` ("TURN REST"), from
 * which fresh credentials are derived for each allocation.
 */
export type TurnOption =
  | { url: string; username: string; password: string }
  | {
    url: string;
    secret: string;
    /** The user part of the REST username. @default 'ntcp' */
    user?: string;
    /** Lifetime of derived credentials. @default 86400 */
    ttlSeconds?: number;
  };

/** A validated TurnOption. */
export interface TurnSettings {
  server: TurnServerAddress;
  /** The URL's transport; TCP relaying (RFC 6062) always talks TCP to the server. */
  transport: 'udp' | 'tcp';
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
  if ('secret' in option) {
    const secret = nonEmpty(option.secret, 'secret');
    const user = option.user === undefined ? undefined : nonEmpty(option.user, 'user');
    if (option.ttlSeconds !== undefined && !(Number.isInteger(option.ttlSeconds) && option.ttlSeconds > 0)) {
      throw new InvalidArgumentError(`turn.ttlSeconds must be a positive integer, got ${option.ttlSeconds}`);
    }
    return {
      server, transport: url.transport,
      credentials: () => turnRestCredentials({ secret, ...(user ? { user } : {}), ...(option.ttlSeconds ? { ttlSeconds: option.ttlSeconds } : {}) }),
    };
  }
  const username = nonEmpty(option.username, 'username');
  const password = nonEmpty(option.password, 'password');
  return { server, transport: url.transport, credentials: () => ({ username, password }) };
}

/** Opens a control connection to the configured server and allocates a relayed address for `relayTransport`. */
export async function allocateRelay(settings: TurnSettings, relayTransport: 'udp' | 'tcp', options: { timeoutMs: number; signal: AbortSignal; logger: Logger }): Promise<TurnClient> {
  const client = await TurnClient.connect({
    server: settings.server,
    transport: relayTransport === 'tcp' ? 'tcp' : settings.transport,
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
