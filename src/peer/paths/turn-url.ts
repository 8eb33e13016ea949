import net from 'node:net';
import { TurnUrlError } from './turn-errors.js';

/** RFC 8656 §3.1 / RFC 7065 §3: the default port of TURN over UDP and TCP (`turn:`). */
export const DEFAULT_TURN_PORT = 3478;
/** RFC 8656 §3.1 / RFC 7065 §3: the default port of TURN over TLS (`turns:`). */
export const DEFAULT_TURNS_PORT = 5349;

export interface TurnUrl {
  host: string;
  port: number;
  /** Transport to the TURN server. @default 'udp' for turn:, 'tcp' for turns: (RFC 7065 §3, RFC 5928) */
  transport: 'udp' | 'tcp';
  /** `turns:`: TLS over that TCP connection, the server's certificate verified. */
  secure: boolean;
}

const TURN_URL = /^(turns?):(\[[^\]]*\]|[^:?[\]]+)(?::([^?]*))?(?:\?(.*))?$/i;
const TRANSPORT_QUERY = /^transport=(udp|tcp)$/i;

/** Parses an RFC 7065 URI: `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT][?transport=tcp]`, IPv6 hosts in brackets. */
export function parseTurnUrl(text: string): TurnUrl {
  const match = TURN_URL.exec(text.trim());
  if (!match) throw new TurnUrlError(text, 'expected turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]');
  const [, scheme, rawHost, rawPort, query] = match as unknown as [string, string, string, string | undefined, string | undefined];
  const secure = scheme.toLowerCase() === 'turns';
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (bracketed && !net.isIPv6(host)) throw new TurnUrlError(text, `"${host}" in brackets is not an IPv6 address`);
  if (host.length === 0) throw new TurnUrlError(text, 'the host is empty');
  const transport = parseTransport(text, query) ?? (secure ? 'tcp' : 'udp');
  // RFC 7065 would make turns:?transport=udp DTLS, which ntcp does not implement.
  if (secure && transport === 'udp') throw new TurnUrlError(text, 'turns: runs TLS over TCP; DTLS (turns: with transport=udp) is not supported');
  return { host, port: parsePort(text, rawPort, secure ? DEFAULT_TURNS_PORT : DEFAULT_TURN_PORT), transport, secure };
}

function parsePort(text: string, rawPort: string | undefined, defaultPort: number): number {
  if (rawPort === undefined) return defaultPort;
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= 1 && port <= 65_535)) throw new TurnUrlError(text, `port must be 1..65535, got "${rawPort}"`);
  return port;
}

function parseTransport(text: string, query: string | undefined): 'udp' | 'tcp' | undefined {
  if (query === undefined) return undefined;
  const transport = TRANSPORT_QUERY.exec(query)?.[1];
  if (transport === undefined) throw new TurnUrlError(text, `the only query is transport=udp or transport=tcp, got "?${query}"`);
  return transport.toLowerCase() as 'udp' | 'tcp';
}
