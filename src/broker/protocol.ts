/**
 * The broker protocol, version 1: length-prefixed JSON frames over TCP (default port 8123).
 * Every frame is a 4-byte big-endian body length followed by one UTF-8 JSON object whose `type`
 * selects its schema below. docs/broker-protocol.md has the catalogue and the sequence diagrams.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
/**
 * Optional parts of version 1 a broker announces in its welcome (a client uses them only then;
 * an older client ignores the announcement and the fields they add):
 * - `punch-port`: the `punch-port` message and the coordinate's `punchPorts`.
 */
export const FEATURE_PUNCH_PORT = 'punch-port';
export const BROKER_FEATURES: readonly string[] = [FEATURE_PUNCH_PORT];
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
export const DEFAULT_BROKER_PORT = 8123;

/** XSTUNT allowed 32 bytes; UTF-8 ids with a few multi-byte characters need more room. */
export const MAX_ID_BYTES = 64;
/** Bound on frames a client sends; the broker's own frames may be larger (they embed profiles). */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024;
export const MAX_PROFILE_BYTES = 16 * 1024;
export const MAX_SIGNAL_BYTES = 2 * 1024;
/** Deeper JSON is refused before it can reach a recursive encoder. */
export const MAX_JSON_DEPTH = 16;
export const MAX_PRIVATE_ADDRESSES = 8;
export const MAX_REQUEST_ID_CHARS = 64;
export const MAX_TOKEN_CHARS = 256;
export const MAX_QUERY_LIMIT = 1000;
export const FRAME_HEADER_BYTES = 4;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
/** In `u` mode a paired surrogate is one code point, so this matches only lone ones. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why an id is unacceptable, or undefined when it is fine. Shared by client and broker. */
export function peerIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'the id must be a non-empty string';
  if (LONE_SURROGATE.test(id)) return 'the id contains a lone surrogate (not valid UTF-8)';
  if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) return `the id is longer than ${MAX_ID_BYTES} bytes of UTF-8`;
  if (CONTROL_CHARACTERS.test(id)) return 'the id contains control characters';
  return undefined;
}

/** Iterative, so hostile nesting cannot overflow the stack while being measured. */
export function jsonDepthWithin(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > maxDepth) return false;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return true;
}

/** A JSON value bounded in depth and encoded size (opaque to the broker). */
function boundedJson<T extends z.ZodType>(schema: T, maxBytes: number) {
  return schema.superRefine((value, context) => {
    // Depth first: only a shallow value may reach the recursive JSON.stringify.
    if (!jsonDepthWithin(value, MAX_JSON_DEPTH)) context.addIssue({ code: 'custom', message: `nested deeper than ${MAX_JSON_DEPTH}` });
    else if (Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8') > maxBytes) context.addIssue({ code: 'custom', message: `larger than ${maxBytes} bytes` });
  });
}

export const PeerId = z.string().superRefine((id, context) => {
  const problem = peerIdProblem(id);
  if (problem) context.addIssue({ code: 'custom', message: problem });
});
const IpAddress = z.string().max(64).refine((address) => isIP(address) !== 0, 'not an IP address');
const Port = z.number().int().min(0).max(65535);
const RequestId = z.string().min(1).max(MAX_REQUEST_ID_CHARS);
const ConnectionId = z.string().min(1).max(64);

export const TransportAddress = z.object({
  family: z.enum(['IPv4', 'IPv6']),
  address: IpAddress,
  port: Port,
});
export type TransportAddress = z.infer<typeof TransportAddress>;

/** A host candidate; its port is unknown (0 or absent) when the peer binds per connection. */
export const CandidateAddress = z.object({ address: IpAddress, port: Port.optional() });
export type CandidateAddress = z.infer<typeof CandidateAddress>;

export const Transport = z.enum(['udp', 'tcp']);
export type Transport = z.infer<typeof Transport>;
export const PeerState = z.enum(['probe', 'idle', 'busy', 'dead']);
export type PeerState = z.infer<typeof PeerState>;
export const Role = z.enum(['initiator', 'responder']);
export type Role = z.infer<typeof Role>;

/** The discovery layer's NatProfile; the broker only bounds it and reads its mapped addresses. */
export const NatProfileJson = boundedJson(z.record(z.string(), z.unknown()), MAX_PROFILE_BYTES);
export type NatProfileJson = Record<string, unknown>;
export const SignalPayload = boundedJson(z.unknown(), MAX_SIGNAL_BYTES);

/**
 * A TCP port a peer keeps ready to punch from: its public mapping (`address`, `port`, learnt by a
 * TCP STUN probe from it) and the local port itself (`hostPort`, for peers behind the same NAT).
 */
export const PunchPort = z.object({ address: IpAddress, port: Port.min(1), hostPort: Port.min(1) });
export type PunchPort = z.infer<typeof PunchPort>;

// ---- client -> broker --------------------------------------------------------------------

export const Hello = z.object({ type: z.literal('hello'), version: z.number().int(), software: z.string().max(64).optional() });
export const Register = z.object({
  type: z.literal('register'),
  id: PeerId,
  profile: NatProfileJson.nullable().optional(),
  privateAddresses: z.array(CandidateAddress).max(MAX_PRIVATE_ADDRESSES).default([]),
  transports: z.array(Transport).min(1).max(2).default(['udp', 'tcp']),
  reclaimToken: z.string().max(MAX_TOKEN_CHARS).optional(),
});
export const Ping = z.object({ type: z.literal('ping'), seq: z.number().int().nonnegative() });
export const Pong = z.object({ type: z.literal('pong'), seq: z.number().int().nonnegative() });
export const Connect = z.object({
  type: z.literal('connect'),
  requestId: RequestId,
  peerId: PeerId,
  transport: Transport,
  relay: z.boolean().optional(),
});
export const SignalOut = z.object({ type: z.literal('signal'), connectionId: ConnectionId, payload: SignalPayload });
export const Done = z.object({
  type: z.literal('done'),
  connectionId: ConnectionId,
  outcome: z.enum(['connected', 'failed']),
  method: z.string().max(32).optional(),
});
export const Deregister = z.object({ type: z.literal('deregister') });
/** Replaces (or with null withdraws) the ready TCP punching port the broker hands to this peer's partners. */
export const PunchPortOut = z.object({ type: z.literal('punch-port'), tcp: PunchPort.nullable() });
export const Query = z.object({
  type: z.literal('query'),
  requestId: RequestId,
  token: z.string().max(MAX_TOKEN_CHARS).optional(),
  id: PeerId.optional(),
  after: PeerId.optional(),
  limit: z.number().int().min(1).max(MAX_QUERY_LIMIT).optional(),
});

export const ClientMessage = z.discriminatedUnion('type', [
  Hello, Register, Ping, Pong, Connect, SignalOut, Done, Deregister, Query, PunchPortOut,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

// ---- broker -> client --------------------------------------------------------------------

export const Welcome = z.object({
  type: z.literal('welcome'),
  version: z.number().int(),
  heartbeatIntervalMs: z.number().int().positive(),
  observed: TransportAddress,
  limits: z.object({
    maxFrameBytes: z.number().int(),
    maxIdBytes: z.number().int(),
    maxProfileBytes: z.number().int(),
    maxSignalBytes: z.number().int(),
  }),
  /** Optional parts of the protocol this broker supports (see BROKER_FEATURES). */
  features: z.array(z.string().max(32)).max(32).optional(),
});
export const Registered = z.object({
  type: z.literal('registered'),
  id: z.string(),
  reclaimToken: z.string(),
  reclaimed: z.boolean(),
  observed: TransportAddress,
});

/** How to reach the other peer; `source` says where the broker learnt the address. */
export const Candidate = z.object({
  source: z.enum(['broker-observed', 'profile-udp', 'profile-tcp', 'private']),
  address: z.string(),
  port: Port.optional(),
});
export type Candidate = z.infer<typeof Candidate>;

export const RelayInfo = z.object({ id: z.string(), token: z.string(), endpoints: z.unknown() });
export type RelayInfo = z.infer<typeof RelayInfo>;

export const Coordinate = z.object({
  type: z.literal('coordinate'),
  requestId: RequestId.optional(),
  connectionId: ConnectionId,
  role: Role,
  transport: Transport,
  peer: z.object({
    id: z.string(),
    observed: TransportAddress,
    profile: z.record(z.string(), z.unknown()).nullable(),
    transports: z.array(Transport),
  }),
  candidates: z.array(Candidate),
  sameNat: z.boolean(),
  /** 32 random bytes, base64: both peers prove knowledge of it to each other. */
  secret: z.string(),
  /** Start sending this many ms after this frame arrives (see docs: synchronised start). */
  startInMs: z.number().nonnegative(),
  /** The broker's smoothed RTT estimate for the receiving peer. */
  rttMs: z.number().nonnegative(),
  expiresInMs: z.number().int().positive(),
  relay: RelayInfo.optional(),
  /**
   * TCP coordinations (feature `punch-port`): the ready punching ports the broker holds, `own` the
   * receiver's (as its partner was told), `peer` the partner's. Punching from them needs no probe
   * and no mapping exchange first.
   */
  punchPorts: z.object({ own: PunchPort.optional(), peer: PunchPort.optional() }).optional(),
});
export const SignalIn = z.object({
  type: z.literal('signal'),
  connectionId: ConnectionId,
  from: z.string(),
  payload: z.unknown(),
});
export const PeerInfo = z.object({
  id: z.string(),
  state: PeerState,
  observed: TransportAddress.nullable(),
  profile: z.record(z.string(), z.unknown()).nullable(),
  transports: z.array(Transport),
  registeredAt: z.number(),
  rttMs: z.number().nullable(),
  coordinations: z.number().int(),
});
export type PeerInfo = z.infer<typeof PeerInfo>;
export const QueryResult = z.object({
  type: z.literal('query-result'),
  requestId: RequestId,
  peers: z.array(PeerInfo),
  /** The id to pass as `after` for the next page, when there is one. */
  next: z.string().optional(),
  counts: z.object({
    connections: z.number().int(),
    probe: z.number().int(),
    idle: z.number().int(),
    busy: z.number().int(),
    dead: z.number().int(),
    coordinations: z.number().int(),
  }),
  counters: z.record(z.string(), z.number()),
});
export type QueryResult = z.infer<typeof QueryResult>;
export const Deregistered = z.object({ type: z.literal('deregistered') });
export const ErrorReply = z.object({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
  requestId: RequestId.optional(),
  /** The broker closes the connection after a fatal error. */
  fatal: z.boolean().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type ErrorReply = z.infer<typeof ErrorReply>;

export const BrokerMessage = z.discriminatedUnion('type', [
  Welcome, Registered, Ping, Pong, Coordinate, SignalIn, QueryResult, Deregistered, ErrorReply,
]);
export type BrokerMessage = z.infer<typeof BrokerMessage>;
export type Coordinate = z.infer<typeof Coordinate>;
