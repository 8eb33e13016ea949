import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Counters } from '../observe/counters.js';
import type { Logger } from '../observe/logger.js';
import type { Candidate, Register } from './protocol.js';
import { BadMessageError, DuplicateIdError, LimitError } from './errors.js';
import { encodeFrame } from './framing.js';
import { PeerRecord, type Session } from './peer-record.js';
import { reflexiveCandidates } from './candidates.js';
import { natSummary } from './peer-views.js';
import { tokenMatches } from './peer-identity.js';
import { endGracefully, errorReply, type SendMessage } from './replies.js';
import type { BrokerCounter } from './server-options.js';

/** 128-bit reclaim tokens. */
const RECLAIM_TOKEN_BYTES = 16;

export interface PeerTableDeps {
  send: SendMessage;
  /** Starts the heartbeat (and the first RTT sample) of a freshly registered connection. */
  ping: (session: Session, now: number) => void;
  endCoordination: (connectionId: string) => void;
  counters: Counters<BrokerCounter>;
  logger: Logger;
  maxPeers: number;
  purgeAfterMs: number;
}

/**
 * The registered ids (XSTUNT's log service): register, reclaim after a reconnect with the token,
 * deregister, death of the connection, and the purge of ids dead for longer than `purgeAfterMs`.
 */
export class PeerTable {
  readonly #peers = new Map<string, PeerRecord>();
  readonly #dead = new Set<PeerRecord>();
  readonly #deps: PeerTableDeps;

  constructor(deps: PeerTableDeps) {
    this.#deps = deps;
  }

  /** Live and dead ids, in registration order. */
  get records(): ReadonlyMap<string, PeerRecord> {
    return this.#peers;
  }

  get(id: string): PeerRecord | undefined {
    return this.#peers.get(id);
  }

  register(session: Session, message: z.infer<typeof Register>, now: number): void {
    const { send, counters, logger, maxPeers } = this.#deps;
    if (session.peer) {
      send(session, errorReply(new BadMessageError(`already registered as ${JSON.stringify(session.peer.id)}`)));
      return;
    }
    const existing = this.#peers.get(message.id);
    const profileJson = message.profile ? JSON.stringify(message.profile) : null;
    const reflexive = reflexiveCandidates(message.profile ?? null);
    if (existing) {
      if (!tokenMatches(existing.reclaimToken, message.reclaimToken)) {
        counters.increment('duplicates-refused');
        logger.info({ id: message.id, remote: session.observed }, 'duplicate id refused');
        send(session, errorReply(new DuplicateIdError(message.id)));
        return;
      }
      this.#reclaim(existing, session, { profileJson, reflexive, message });
      return;
    }
    if (this.#peers.size >= maxPeers) {
      counters.increment('registrations-refused');
      logger.warn({ id: message.id, peers: this.#peers.size }, 'peer table full: registration refused');
      send(session, errorReply(new LimitError(`the broker holds its maximum of ${maxPeers} ids`)));
      return;
    }
    const record = new PeerRecord({
      id: message.id, session, profileJson, reflexive, privateAddresses: message.privateAddresses,
      transports: message.transports, reclaimToken: randomBytes(RECLAIM_TOKEN_BYTES), now,
    });
    this.#peers.set(record.id, record);
    session.peer = record;
    counters.increment('registrations');
    logger.info({ id: record.id, observed: record.observed, transports: record.transports, nat: natSummary(message.profile) }, 'registered');
    this.#sendRegistered(session, record, false);
  }

  #reclaim(record: PeerRecord, session: Session, update: { profileJson: string | null; reflexive: Candidate[]; message: z.infer<typeof Register> }): void {
    const previous = record.session;
    if (previous) {
      // The owner came back on a new connection before we noticed the old one die.
      previous.peer = undefined;
      previous.closing = true;
      previous.socket.destroy();
    }
    this.#dead.delete(record);
    record.deadAt = 0;
    record.session = session;
    record.observed = session.observed;
    record.profileJson = update.profileJson;
    record.reflexive = update.reflexive;
    record.privateAddresses = update.message.privateAddresses;
    record.transports = update.message.transports;
    // The port belonged to the lost connection's network state; the client announces a new one.
    record.tcpPunchPort = undefined;
    session.peer = record;
    this.#deps.counters.increment('reclaims');
    this.#deps.logger.info({ id: record.id, observed: record.observed }, 'id reclaimed after reconnect');
    this.#sendRegistered(session, record, true);
  }

  #sendRegistered(session: Session, record: PeerRecord, reclaimed: boolean): void {
    this.#deps.send(session, {
      type: 'registered', id: record.id, reclaimToken: record.reclaimToken.toString('base64url'), reclaimed, observed: record.observed,
    });
    this.#deps.ping(session, Date.now());
  }

  deregister(session: Session): void {
    const record = session.peer;
    if (record) {
      this.#forget(record);
      session.peer = undefined;
      this.#deps.counters.increment('deregistrations');
      this.#deps.logger.info({ id: record.id }, 'deregistered');
    }
    session.closing = true;
    endGracefully(session.socket, encodeFrame({ type: 'deregistered' }));
  }

  /** The id stays reserved for its owner (reclaim) until purged. */
  markDead(record: PeerRecord, reason: string): void {
    const session = record.session;
    record.session = undefined;
    record.deadAt = Date.now();
    this.#dead.add(record);
    this.#deps.counters.increment('deaths');
    this.#deps.logger.info({ id: record.id, reason }, 'peer dead');
    if (session) {
      session.peer = undefined;
      session.socket.destroy();
    }
  }

  /** Forgets the ids dead for longer than `purgeAfterMs`. */
  purge(now: number): void {
    for (const record of this.#dead) {
      if (now - record.deadAt <= this.#deps.purgeAfterMs) continue;
      this.#forget(record);
      this.#deps.counters.increment('purged');
    }
  }

  #forget(record: PeerRecord): void {
    for (const connectionId of record.coordinations ?? []) this.#deps.endCoordination(connectionId);
    this.#peers.delete(record.id);
    this.#dead.delete(record);
  }
}
