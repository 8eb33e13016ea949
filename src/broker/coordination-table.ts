import type { Transport } from './protocol.js';
import type { PeerRecord } from './peer-record.js';

/** One connect between two registered peers, from the request until `done` or its TTL. */
export interface Coordination {
  id: string;
  initiator: PeerRecord;
  responder: PeerRecord;
  transport: Transport;
  expiresAt: number;
  signals: number;
}

/** The coordinations in progress; each also counts on both peers' records (busy) while it lasts. */
export class CoordinationTable {
  readonly #byId = new Map<string, Coordination>();

  get size(): number {
    return this.#byId.size;
  }

  has(connectionId: string): boolean {
    return this.#byId.has(connectionId);
  }

  add(coordination: Coordination): void {
    this.#byId.set(coordination.id, coordination);
    coordination.initiator.addCoordination(coordination.id);
    coordination.responder.addCoordination(coordination.id);
  }

  /** Removes it and frees both peers of it; undefined when it already ended. */
  end(connectionId: string): Coordination | undefined {
    const coordination = this.#byId.get(connectionId);
    if (!coordination) return undefined;
    this.#byId.delete(connectionId);
    coordination.initiator.removeCoordination(connectionId);
    coordination.responder.removeCoordination(connectionId);
    return coordination;
  }

  /** The coordination, when `record` is one of its two peers. */
  involving(record: PeerRecord | undefined, connectionId: string): Coordination | undefined {
    const coordination = this.#byId.get(connectionId);
    if (!coordination || !record) return undefined;
    return coordination.initiator === record || coordination.responder === record ? coordination : undefined;
  }

  /** Ends those past their expiry and says how many. */
  expire(now: number): number {
    let expired = 0;
    // Insertion order is creation order and the TTL is fixed, so expired entries come first.
    for (const coordination of this.#byId.values()) {
      if (coordination.expiresAt > now) break;
      this.end(coordination.id);
      expired += 1;
    }
    return expired;
  }
}
