import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observe/logger.js';
import { NatProfileSchema, type NatProfile } from './profile.js';

/** Bumped whenever the file layout or the profile's meaning changes; older files are dropped. */
export const PROFILE_CACHE_VERSION = 1;
/** A cached profile older than this is measured again. @default 1 hour */
export const DEFAULT_CACHE_MAX_AGE_MS = 3_600_000;
const MAX_CACHE_FILE_BYTES = 256 * 1024;

/** What a cached profile was measured against; a mismatch on any field drops the cache. */
export interface ProfileCacheKey {
  /** `host:port` of the STUN server as the caller named it. */
  server: string;
  /** The local address the route to the server leaves from. */
  localAddress: string | null;
}

const cacheFileSchema = z.object({
  format: z.literal('ntcp-nat-profile'),
  version: z.number(),
  server: z.string(),
  localAddress: z.string().nullable(),
  savedAt: z.number(),
  profile: z.unknown(),
});

export interface ReadCacheOptions {
  /** @default DEFAULT_CACHE_MAX_AGE_MS */
  maxAgeMs?: number;
  /** Transports the cached profile must cover. */
  transports: ReadonlyArray<'udp' | 'tcp'>;
  now?: number;
  logger: Logger;
}

/**
 * XSTUNT's XReadFingerprint: the cached profile when its version, server and local address still
 * match (and it is fresh and covers the transports); otherwise undefined, and a stale or corrupt
 * file is deleted so it cannot mislead the next reader.
 */
export async function readCachedProfile(path: string, key: ProfileCacheKey, options: ReadCacheOptions): Promise<NatProfile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') options.logger.warn({ path, err: error }, 'cannot read the NAT profile cache');
    return undefined;
  }
  const reason = rejectReason(text, key, options);
  if (typeof reason !== 'string') return reason;
  options.logger.info({ path, reason }, 'dropping the NAT profile cache');
  try {
    await unlink(path);
  } catch (error) {
    options.logger.warn({ path, err: error }, 'cannot delete the stale NAT profile cache');
  }
  return undefined;
}

function rejectReason(text: string, key: ProfileCacheKey, options: ReadCacheOptions): NatProfile | string {
  if (text.length > MAX_CACHE_FILE_BYTES) return 'file too large';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const file = cacheFileSchema.safeParse(json);
  if (!file.success) return 'not an ntcp NAT profile cache';
  if (file.data.version !== PROFILE_CACHE_VERSION) return `version ${file.data.version}, expected ${PROFILE_CACHE_VERSION}`;
  if (file.data.server !== key.server) return `measured against ${file.data.server}, not ${key.server}`;
  if (file.data.localAddress !== key.localAddress) return `measured from ${file.data.localAddress}, now ${key.localAddress}`;
  const age = (options.now ?? Date.now()) - file.data.savedAt;
  if (!(age >= 0 && age <= (options.maxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS))) return `${Math.round(age / 1000)} s old`;
  const profile = NatProfileSchema.safeParse(file.data.profile);
  if (!profile.success) return 'profile does not validate';
  const missing = options.transports.filter((transport) => profile.data[transport] === undefined);
  if (missing.length > 0) return `no ${missing.join(' and ')} results`;
  return profile.data;
}

/** XSTUNT's XWriteFingerprint, atomically: a reader sees the old file or the new one, never half of one. */
export async function writeCachedProfile(path: string, key: ProfileCacheKey, profile: NatProfile, now = Date.now()): Promise<void> {
  const file = { format: 'ntcp-nat-profile', version: PROFILE_CACHE_VERSION, ...key, savedAt: now, profile };
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, path);
}
