import { isIP } from 'node:net';
import { DEFAULT_BROKER_PORT, type BrokerTlsOptions } from '../broker/index.js';
import { InvalidArgumentError } from '../errors.js';
import { DEFAULT_STUN_PORT } from '../stun/index.js';

/** Where a peer finds `ntcp server`: its broker (TCP) and its STUN server (UDP and TCP). */
export interface ServerAddress {
  host: string;
  /** @default 8123 */
  brokerPort: number;
  /** @default 3478 */
  stunPort: number;
  /** Reach the broker over TLS (`true`: verified against Node's root CAs). @default plain TCP */
  tls?: boolean | BrokerTlsOptions;
}

/** The object form of Peer.register's `server` option. */
export interface ServerAddressOptions {
  host: string;
  /** @default 8123 */
  brokerPort?: number;
  /** @default 3478 */
  stunPort?: number;
  /** Reach the broker over TLS (`true`: verified against Node's root CAs). @default false (plain TCP) */
  tls?: boolean | BrokerTlsOptions;
}

function port(text: string, what: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > 65535) throw new InvalidArgumentError(`${what}: not a port: ${JSON.stringify(text)}`);
  return value;
}

/**
 * `HOST` (default ports), `HOST:PORT` (PORT is the broker's), `[IPv6]` or `[IPv6]:PORT`.
 * A bare IPv6 literal has no port.
 */
export function parseServerAddress(text: string): ServerAddress {
  const value = text.trim();
  if (value.length === 0) throw new InvalidArgumentError('server: empty address');
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    if (isIP(bracketed[1]!) !== 6) throw new InvalidArgumentError(`server: not an IPv6 address: ${bracketed[1]}`);
    const brokerPort = bracketed[2] === undefined ? DEFAULT_BROKER_PORT : port(bracketed[2], 'server');
    return { host: bracketed[1]!, brokerPort, stunPort: DEFAULT_STUN_PORT };
  }
  if (isIP(value) === 6) return { host: value, brokerPort: DEFAULT_BROKER_PORT, stunPort: DEFAULT_STUN_PORT };
  const colon = value.lastIndexOf(':');
  if (colon < 0) return { host: value, brokerPort: DEFAULT_BROKER_PORT, stunPort: DEFAULT_STUN_PORT };
  const host = value.slice(0, colon);
  if (host.length === 0) throw new InvalidArgumentError(`server: no host in ${JSON.stringify(text)}`);
  return { host, brokerPort: port(value.slice(colon + 1), 'server'), stunPort: DEFAULT_STUN_PORT };
}

/** Accepts the string form or an object with optional ports; returns a new object. */
export function toServerAddress(server: string | ServerAddressOptions): ServerAddress {
  if (typeof server === 'string') return parseServerAddress(server);
  if (typeof server?.host !== 'string' || server.host.length === 0) throw new InvalidArgumentError('server.host must be a non-empty string');
  return {
    host: server.host, brokerPort: server.brokerPort ?? DEFAULT_BROKER_PORT, stunPort: server.stunPort ?? DEFAULT_STUN_PORT,
    ...(server.tls ? { tls: server.tls } : {}),
  };
}
