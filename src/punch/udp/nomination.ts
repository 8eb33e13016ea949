import type { PunchRole } from './wire.js';

/** What the engine must do after a verified ACK (policy only; the engine does the I/O). */
export interface NominationStep {
  /** Answer on the same path: a plain ACK (completes the peer's verification) or a nominated one. */
  reply: 'ack' | 'nominate' | null;
  /** Initiator: this path is chosen; repeat the nomination on it until it is confirmed. */
  startNominating: boolean;
  /** This path is the connection. */
  succeed: boolean;
}

const NOTHING: NominationStep = { reply: null, startNominating: false, succeed: false };

/**
 * Which verified path becomes the connection (ICE's "controlling agent" idea, RFC 8445 §8):
 * the initiator picks the first path it verified and nominates it; the responder adopts the
 * first nominated path and confirms it; the initiator is done at the confirmation, or at the
 * first data or keepalive on that path (the responder only sends those after adopting it, so
 * they stand in for a lost confirmation).
 */
export class Nomination<Path> {
  readonly #role: PunchRole;
  #selected: Path | undefined;

  constructor(role: PunchRole) {
    this.#role = role;
  }

  get selected(): Path | undefined {
    return this.#selected;
  }

  /** A verified ACK arrived on `path`; `firstOnPath`: the path was not verified before. */
  onVerifiedAck(path: Path, firstOnPath: boolean, nominate: boolean): NominationStep {
    if (this.#role === 'initiator') {
      if (this.#selected === undefined) {
        this.#selected = path;
        return { reply: null, startNominating: true, succeed: false };
      }
      return this.#selected === path && nominate ? { reply: null, startNominating: false, succeed: true } : NOTHING;
    }
    if (nominate) {
      this.#selected ??= path;
      return this.#selected === path ? { reply: 'nominate', startNominating: false, succeed: true } : NOTHING;
    }
    return firstOnPath ? { reply: 'ack', startNominating: false, succeed: false } : NOTHING;
  }

  /** Data or a keepalive arrived on `path` before the punch ended. */
  onTraffic(path: Path): boolean {
    return this.#role === 'initiator' && this.#selected !== undefined && this.#selected === path;
  }
}
