import { InvalidArgumentError } from '../errors.js';
import type { TurnOption } from '../peer/index.js';
import { readPemFile } from './pem-file.js';

/** `--turn*` flags of `ntcp listen` and `ntcp connect` (commander's camel-cased names). */
export interface TurnFlags {
  turn?: string;
  turnUser?: string;
  turnPass?: string;
  turnSecret?: string;
  turnCa?: string;
}

export const TURN_FLAG_HELP = {
  turn: 'relay through this TURN server instead of the built-in relay: turn:HOST[:PORT][?transport=udp|tcp], or turns:HOST[:PORT] for TLS (default port 5349) (both peers need it)',
  user: 'TURN username (with --turn-pass), or the user part of REST credentials (with --turn-secret)',
  pass: 'TURN password',
  secret: 'TURN REST shared secret (coturn --static-auth-secret): credentials are derived from it',
  ca: 'PEM file of the CA that signed the turns: server\'s certificate (default: the system\'s root CAs)',
} as const;

/** The Peer.register `turn` option the flags ask for; the URL itself is checked by Peer.register. */
export function turnOption(flags: TurnFlags): { turn?: TurnOption } {
  const { turn: url, turnUser, turnPass, turnSecret, turnCa } = flags;
  if (url === undefined) {
    if (turnUser !== undefined || turnPass !== undefined || turnSecret !== undefined || turnCa !== undefined) {
      throw new InvalidArgumentError('--turn-user, --turn-pass, --turn-secret and --turn-ca need --turn URL');
    }
    return {};
  }
  const trust = turnCa === undefined ? {} : { ca: readPemFile(turnCa, '--turn-ca') };
  if (turnSecret !== undefined) {
    if (turnPass !== undefined) throw new InvalidArgumentError('--turn-secret and --turn-pass exclude each other');
    return { turn: { url, secret: turnSecret, ...(turnUser !== undefined ? { user: turnUser } : {}), ...trust } };
  }
  if (turnUser === undefined || turnPass === undefined) throw new InvalidArgumentError('--turn needs --turn-user and --turn-pass, or --turn-secret');
  return { turn: { url, username: turnUser, password: turnPass, ...trust } };
}
