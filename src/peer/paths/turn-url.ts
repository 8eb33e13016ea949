import net from 'node:net';
import { TurnUrlError } from './turn-errors.js';

/** RFC 8656 §3.1: the default port of TURN over UDP and TCP. */
export const DEFAULT_TURN_PORT = 3478;

export interface TurnUrl {
  host: string;
  port: number;
  /** Transport to the TURN server. @default 'udp' (RFC 7065 §3) */
  transport: 'udp' | 'tcp';
}

const TURN_URL = /^(turns?):(\[[^\]]*\]|[^:?[\]]+)(?::([^?]*))?(?:\?(.*))?$/i;
const TRANSPORT_QUERY = /^transport=(udp|tcp)$/i;

/** Parses an RFC 7065 `turn:` URI: `turn:HOST[:PORT][?transport=udp|tcp]`, IPv6 hosts in brackets. */
export function parseTurnUrl(text: string): TurnUrl {
  const match = TURN_URL.exec(text.trim());
  if (!match) throw new TurnUrlError(text, 'expected turn:HOST[:PORT][?transport=udp|tcp]');
  const [, scheme, rawHost, rawPort, query] = match as unknown as [string, string, string, string | undefined, string | undefined];
  if (scheme.toLowerCase() === 'turns') throw new TurnUrlError(text, 'turns: (TURN over TLS/DTLS) is not supported, use turn:');
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (bracketed && !net.isIPv6(host)) throw new TurnUrlError(text, `"${host}" in brackets is not an IPv6 address`);
  if (host.length === 0) throw new TurnUrlError(text, 'the host is empty');
  return { host, port: parsePort(text, rawPort), transport: parseTransport(text, query) };
}

function parsePort(text: string, rawPort: string | undefined): number {
  if (rawPort === undefined) return DEFAULT_TURN_PORT;
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= 1 && port <= 65_535)) throw new TurnUrlError(text, `port must be 1..65535, got "${rawPort}"`);
  return port;
}

function parseTransport(text: string, query: string | undefined): 'udp' | 'tcp' {
  if (query === undefined) return 'udp';
  const transport = TRANSPORT_QUERY.exec(query)?.[1];
  if (transport === undefined) throw new TurnUrlError(text, `the only query is transport=udp or transport=tcp, got "?${query}"`);
  return transport.toLowerCase() as 'udp' | 'tcp';
}
