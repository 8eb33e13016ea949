import type { PunchRole } from './wire.js';

/** What the engine must do after a verified datagram (policy only; the engine does the I/O). */
export interface NominationStep {
  /** Answer on the same path: a plain ACK (completes the peer's verification) or a nominating one. */
  reply: 'ack' | 'nominate' | null;
  /** This path is the connection. */
  succeed: boolean;
}

const NOTHING: NominationStep = { reply: null, succeed: false };

/**
 * Which verified path becomes the connection (ICE's "controlling agent", RFC 8445 §8). The
 * initiator nominates exactly one path, the first an ACK echoing its nonce verified, and is done
 * at once (one round trip after the first probes crossed); its connection repeats the nomination
 * until the responder confirms. The responder adopts the nominated path (the nominating ACK
 * echoes its nonce, so the path is verified for it too) and confirms it. A PROBE never selects:
 * it can be replayed from elsewhere, and one nomination must never be taken back.
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

  /** A valid PROBE of the peer arrived: answer it so the peer can verify the path. */
  onProbe(): NominationStep {
    return { reply: 'ack', succeed: false };
  }

  /** An ACK echoing our nonce arrived on `path`; `firstOnPath`: the path was not verified before. */
  onVerifiedAck(path: Path, firstOnPath: boolean, nominate: boolean): NominationStep {
    if (this.#role === 'initiator') {
      if (this.#selected !== undefined) return NOTHING;
      this.#selected = path;
      return { reply: 'nominate', succeed: true };
    }
    if (nominate) {
      this.#selected ??= path;
      return this.#selected === path ? { reply: 'nominate', succeed: true } : NOTHING;
    }
    return firstOnPath ? { reply: 'ack', succeed: false } : NOTHING;
  }
}
