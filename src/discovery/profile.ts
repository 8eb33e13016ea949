import { z } from 'zod';
import type { TransportAddress } from '../codec/index.js';

/** RFC 4787 section 4.1 (mapping) and 5 (filtering) behaviour, as RFC 5780 sections 4.3 and 4.4 measure it. */
export type NatBehaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';

/** The classic RFC 3489 section 5 names, for users who think in those words. */
export type Rfc3489Type =
  | 'open-internet'
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted-cone'
  | 'symmetric'
  | 'symmetric-udp-firewall'
  | 'udp-blocked'
  | 'unknown';

/** XSTUNT's TCP fingerprint: how the NAT picks the public port of a new connection. */
export type TcpMappingKind = 'cone' | 'delta-symmetric' | 'random-symmetric' | 'unknown';

export type Hairpinning = 'supported' | 'unsupported' | 'unknown';

/** One request the probe sent, and what came back. */
export interface ProbeObservation {
  /** Which test this was, e.g. 'udp-mapping-1', 'udp-filtering-2', 'tcp-same-port-3'. */
  test: string;
  /** The local (private) transport address the request left from. */
  local: TransportAddress | null;
  /** The server transport address it went to. */
  server: TransportAddress;
  outcome: 'response' | 'no-response' | 'error';
  /** The reflexive address the server saw (XOR-MAPPED-ADDRESS). */
  mapped?: TransportAddress;
  /** Where the response actually came from. */
  responseFrom?: TransportAddress;
  rttMs?: number;
  /** `code: message` of the failure, for 'error' and 'no-response'. */
  error?: string;
}

/** Why a classifier decided what it did: the raw observations plus its reasoning. */
export interface Evidence {
  observations: ProbeObservation[];
  notes: string[];
}

/** How long an idle UDP mapping survives: alive after `aliveMs`, gone at `expiredMs` (null: never seen gone). */
export interface MappingLifetime {
  aliveMs: number;
  expiredMs: number | null;
}

export interface UdpProfile {
  /** The local transport address of the primary test socket. */
  local: TransportAddress | null;
  /** The public (reflexive) address of that socket; null when UDP is blocked. */
  mapped: TransportAddress | null;
  /** false when the mapped address equals the local one. */
  natPresent: boolean | 'unknown';
  mapping: NatBehaviour;
  filtering: NatBehaviour;
  hairpinning: Hairpinning;
  /** The NAT kept the local port for every mapping observed. */
  portPreserving: boolean | 'unknown';
  /** Port increment between consecutive new mappings (symmetric NATs with sequential allocation). */
  delta?: number;
  rfc3489Type: Rfc3489Type;
  mappingLifetime?: MappingLifetime;
  evidence: Evidence;
}

export interface TcpProfile {
  /** false when no TCP connection to the server could be made. */
  reachable: boolean;
  local: TransportAddress | null;
  mapped: TransportAddress | null;
  natPresent: boolean | 'unknown';
  /** RFC 4787 mapping behaviour from the four server address/port combinations. */
  mapping: NatBehaviour;
  portPreserving: boolean | 'unknown';
  kind: TcpMappingKind;
  /** N of a delta-N symmetric NAT. */
  delta?: number;
  evidence: Evidence;
}

/** What discovery learned about the NATs between this host and the server. Plain JSON. */
export interface NatProfile {
  version: 1;
  server: { host: string; port: number };
  /** The alternate server address used for the RFC 5780 tests, when one was known. */
  altServer: TransportAddress | null;
  measuredAt: string;
  durationMs: number;
  local: {
    /** The local address the route to the server leaves from. */
    address: string | null;
    /** Every non-loopback local interface address. */
    interfaces: string[];
  };
  udp?: UdpProfile;
  tcp?: TcpProfile;
}

export const NAT_PROFILE_VERSION = 1;

const transportAddressSchema = z.object({
  family: z.enum(['IPv4', 'IPv6']),
  address: z.string().max(64),
  port: z.number().int().min(0).max(65535),
});
const behaviourSchema = z.enum(['endpoint-independent', 'address-dependent', 'address-and-port-dependent', 'unknown']);
const tristateSchema = z.union([z.boolean(), z.literal('unknown')]);
const deltaSchema = z.number().int().min(-65535).max(65535);
const observationSchema = z.object({
  test: z.string().max(64),
  local: transportAddressSchema.nullable(),
  server: transportAddressSchema,
  outcome: z.enum(['response', 'no-response', 'error']),
  mapped: transportAddressSchema.optional(),
  responseFrom: transportAddressSchema.optional(),
  rttMs: z.number().min(0).optional(),
  error: z.string().max(512).optional(),
});
const evidenceSchema = z.object({
  observations: z.array(observationSchema).max(64),
  notes: z.array(z.string().max(512)).max(64),
});

/** Validates a profile that crossed a trust boundary (a cache file, the broker). */
export const NatProfileSchema: z.ZodType<NatProfile> = z.object({
  version: z.literal(NAT_PROFILE_VERSION),
  server: z.object({ host: z.string().max(255), port: z.number().int().min(1).max(65535) }),
  altServer: transportAddressSchema.nullable(),
  measuredAt: z.string().max(64),
  durationMs: z.number().min(0),
  local: z.object({ address: z.string().max(64).nullable(), interfaces: z.array(z.string().max(64)).max(64) }),
  udp: z
    .object({
      local: transportAddressSchema.nullable(),
      mapped: transportAddressSchema.nullable(),
      natPresent: tristateSchema,
      mapping: behaviourSchema,
      filtering: behaviourSchema,
      hairpinning: z.enum(['supported', 'unsupported', 'unknown']),
      portPreserving: tristateSchema,
      delta: deltaSchema.optional(),
      rfc3489Type: z.enum([
        'open-internet',
        'full-cone',
        'restricted-cone',
        'port-restricted-cone',
        'symmetric',
        'symmetric-udp-firewall',
        'udp-blocked',
        'unknown',
      ]),
      mappingLifetime: z.object({ aliveMs: z.number().min(0), expiredMs: z.number().min(0).nullable() }).optional(),
      evidence: evidenceSchema,
    })
    .optional(),
  tcp: z
    .object({
      reachable: z.boolean(),
      local: transportAddressSchema.nullable(),
      mapped: transportAddressSchema.nullable(),
      natPresent: tristateSchema,
      mapping: behaviourSchema,
      portPreserving: tristateSchema,
      kind: z.enum(['cone', 'delta-symmetric', 'random-symmetric', 'unknown']),
      delta: deltaSchema.optional(),
      evidence: evidenceSchema,
    })
    .optional(),
});

/**
 * The profile without its raw observations (the notes that explain each verdict stay): what to
 * hand to the broker, whose profile limit a long evidence list (mapping lifetime) could exceed.
 */
export function compactProfile(profile: NatProfile): NatProfile {
  const compact: NatProfile = { ...profile };
  if (profile.udp) compact.udp = { ...profile.udp, evidence: { observations: [], notes: profile.udp.evidence.notes } };
  if (profile.tcp) compact.tcp = { ...profile.tcp, evidence: { observations: [], notes: profile.tcp.evidence.notes } };
  return compact;
}
