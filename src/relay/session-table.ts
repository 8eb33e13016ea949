import { randomBytes } from 'node:crypto';
import { AttachStatus, RelayCapacityError } from './errors.js';
import type { RelayLimits } from './limits.js';
import type { Clock } from '../util/clock.js';

export type RelayTransport = 'tcp' | 'udp';
export type Side = 0 | 1;
export type EndReason = 'closed' | 'vanished' | 'idle' | 'expired' | 'peer-timeout' | 'relay-closed' | 'cancelled';

/** 24 random bytes as base64url: 32 characters, 192 bits an attacker would have to guess. */
const TOKEN_BYTES = 24;
const SESSION_ID_BYTES = 8;
/** Ended sessions' tokens are remembered (bounded) so a late attach learns why it failed. */
const TOMBSTONES_PER_SESSION = 4;

/** One relay session: two tokens, one per peer; the transport layer keeps its own state in `link`. */
export class RelaySession<Link = unknown> {
  readonly id: string;
  readonly tokens: [string, string];
  readonly createdAt: number;
  readonly attached: [boolean, boolean] = [false, false];
  transport: RelayTransport | undefined;
  pendingSince: number | undefined;
  lastActivity: number;
  ended = false;
  link: Link | undefined;

  constructor(id: string, tokens: [string, string], now: number) {
    this.id = id;
    this.tokens = tokens;
    this.createdAt = now;
    this.lastActivity = now;
  }

  get paired(): boolean {
    return this.attached[0] && this.attached[1];
  }
}

export type Claim =
  | { status: typeof AttachStatus.Ok; session: RelaySession; side: Side; reattach: boolean }
  | { status: Exclude<AttachStatus, typeof AttachStatus.Ok> };

export type SessionEndListener = (session: RelaySession, reason: EndReason) => void;

/**
 * The relay's sessions and tokens, independent of sockets: creation, token claims, expiry and
 * idle sweeps. Transports learn about ends through the listener given per transport.
 */
export class SessionTable {
  readonly #sessions = new Map<string, RelaySession>();
  readonly #byToken = new Map<string, { session: RelaySession; side: Side }>();
  readonly #tombstones = new Map<string, AttachStatus>();
  readonly #limits: RelayLimits;
  readonly #clock: Clock;
  readonly #onEnd: Partial<Record<RelayTransport, SessionEndListener>> = {};
  #onAnyEnd: SessionEndListener | undefined;

  constructor(limits: RelayLimits, clock: Clock) {
    this.#limits = limits;
    this.#clock = clock;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get activeCount(): number {
    let count = 0;
    for (const session of this.#sessions.values()) if (session.paired) count++;
    return count;
  }

  onTransportEnd(transport: RelayTransport, listener: SessionEndListener): void {
    this.#onEnd[transport] = listener;
  }

  onEnd(listener: SessionEndListener): void {
    this.#onAnyEnd = listener;
  }

  create(): RelaySession {
    if (this.#sessions.size >= this.#limits.maxSessions) throw new RelayCapacityError(this.#limits.maxSessions);
    const tokens: [string, string] = [newToken(), newToken()];
    const session = new RelaySession(randomBytes(SESSION_ID_BYTES).toString('hex'), tokens, this.#clock.now());
    this.#sessions.set(session.id, session);
    this.#byToken.set(tokens[0], { session, side: 0 });
    this.#byToken.set(tokens[1], { session, side: 1 });
    return session;
  }

  /**
   * Attaches the holder of `token` over `transport`. A TCP token is single-use; a UDP token may
   * attach again (the peer's address changed), which the caller sees as `reattach`.
   */
  claim(token: string, transport: RelayTransport): Claim {
    const entry = this.#byToken.get(token);
    if (!entry) return { status: this.#tombstones.get(token) ?? AttachStatus.TokenInvalid } as Claim;
    const { session, side } = entry;
    if (session.transport !== undefined && session.transport !== transport) return { status: AttachStatus.TransportMismatch };
    if (session.attached[side]) {
      if (transport === 'tcp') return { status: AttachStatus.TokenUsed };
      return { status: AttachStatus.Ok, session, side, reattach: true };
    }
    const now = this.#clock.now();
    session.transport = transport;
    session.attached[side] = true;
    session.lastActivity = now;
    if (!session.paired) session.pendingSince = now;
    return { status: AttachStatus.Ok, session, side, reattach: false };
  }

  /** The session with this id, while it lasts. */
  get(id: string): RelaySession | undefined {
    return this.#sessions.get(id);
  }

  /** Ends a session once; the transport's listener releases its sockets. */
  end(session: RelaySession, reason: EndReason): void {
    if (session.ended) return;
    session.ended = true;
    this.#sessions.delete(session.id);
    const unusedTombstone = reason === 'expired' || reason === 'peer-timeout' ? AttachStatus.TokenExpired : AttachStatus.SessionClosed;
    session.tokens.forEach((token, side) => {
      this.#byToken.delete(token);
      this.#remember(token, session.attached[side] ? AttachStatus.TokenUsed : unusedTombstone);
    });
    if (session.transport) this.#onEnd[session.transport]?.(session, reason);
    this.#onAnyEnd?.(session, reason);
  }

  /** Expires unclaimed tokens, half-attached sessions and idle ones. */
  sweep(): void {
    const now = this.#clock.now();
    for (const session of [...this.#sessions.values()]) {
      if (!session.attached[0] && !session.attached[1]) {
        if (now - session.createdAt >= this.#limits.tokenTtlMs) this.end(session, 'expired');
      } else if (!session.paired) {
        if (now - session.pendingSince! >= this.#limits.pendingTimeoutMs) this.end(session, 'peer-timeout');
      } else if (now - session.lastActivity >= this.#limits.idleTimeoutMs) {
        this.end(session, 'idle');
      }
    }
  }

  endAll(reason: EndReason): void {
    for (const session of [...this.#sessions.values()]) this.end(session, reason);
  }

  #remember(token: string, status: AttachStatus): void {
    if (this.#tombstones.size >= this.#limits.maxSessions * TOMBSTONES_PER_SESSION) {
      this.#tombstones.delete(this.#tombstones.keys().next().value!);
    }
    this.#tombstones.set(token, status);
  }
}

function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}
