import { NatProfileSchema, type NatProfile } from '../discovery/index.js';

/** The peer's NatProfile as the broker relayed it, or undefined when it is absent or malformed. */
export function remoteProfile(json: Record<string, unknown> | null): NatProfile | undefined {
  if (json === null) return undefined;
  const parsed = NatProfileSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
