import { createHmac } from 'node:crypto';

/** Long-term credentials as the TURN server knows them. */
export interface TurnCredentials {
  username: string;
  password: string;
}

/**
 * The "TURN REST API" scheme coturn implements with `--use-auth-secret`
 * (draft-uberti-behave-turn-rest): username = "<expiry unix seconds>:<user>",
 * password = base64(HMAC-SHA1(shared secret, username)). The server checks the HMAC and that the
 * expiry is in the future, so the secret itself never leaves the operator's services.
 */
export function turnRestCredentials(options: {
  secret: string;
  /** @default 'ntcp' */
  user?: string;
  /** @default 86400 */
  ttlSeconds?: number;
  /** Seconds since the epoch. @default Date.now() / 1000 */
  now?: number;
}): TurnCredentials {
  const now = Math.floor(options.now ?? Date.now() / 1000);
  const username = `${now + (options.ttlSeconds ?? 86_400)}:${options.user ?? 'ntcp'}`;
  return { username, password: createHmac('sha1', options.secret).update(username).digest('base64') };
}
