import type { RemoteInfo } from 'node:dgram';
import type { Logger } from '../../observe/logger.js';
import type { UdpMethod } from './connection.js';
import { Nomination } from './nomination.js';
import type { ProbeScheduler } from './probe-scheduler.js';
import { pathKey, type PunchSocket } from './punch-sockets.js';
import type { Verifier } from './verify.js';
import { decodeFrame, FrameType, type Frame, type PunchRole } from './wire.js';

/** Datagrams of the peer kept for the connection while the punch still runs. */
const MAX_EARLY_FRAMES = 16;

/** A path both sides proved live (see Verifier). */
export interface VerifiedPath {
  socket: PunchSocket;
  address: string;
  port: number;
  peerNonce: Buffer;
  method: UdpMethod;
}

export interface PathVerificationOptions {
  verifier: Verifier;
  role: PunchRole;
  scheduler: ProbeScheduler;
  /** The technique that reached the peer on this path. */
  methodOf: (socket: PunchSocket, rinfo: RemoteInfo) => UdpMethod;
  /**
   * Nomination picked `path`. `early`: data the peer sent on it before the punch ended.
   * `awaitingConfirmation`: the initiator's connection repeats the nomination until confirmed.
   */
  onSelected: (path: VerifiedPath, early: Frame[], awaitingConfirmation: boolean) => void;
  logger: Logger;
}

/**
 * Every datagram that reaches one of the punch's sockets: answers the peer's PROBEs, verifies
 * its ACKs (steps 2-4 of Verifier's protocol), lets Nomination pick the path, and keeps data the
 * peer sent early for the connection.
 */
export class PathVerification {
  readonly #options: PathVerificationOptions;
  readonly #nomination: Nomination<string>;
  /** By pathKey. */
  readonly #verified = new Map<string, VerifiedPath>();
  /** Data and keepalives that came before the punch ended, by pathKey; MAX_EARLY_FRAMES in all. */
  readonly #early = new Map<string, Frame[]>();
  #earlyFrames = 0;
  #rejected = 0;

  constructor(options: PathVerificationOptions) {
    this.#options = options;
    this.#nomination = new Nomination(options.role);
  }

  /** Datagrams of ours that failed verification (wrong secret, connection or nonce). */
  get rejected(): number {
    return this.#rejected;
  }

  onDatagram(socket: PunchSocket, bytes: Buffer, rinfo: RemoteInfo): void {
    const frame = decodeFrame(bytes);
    if (frame === undefined) return;
    const { verifier, scheduler, methodOf } = this.#options;
    switch (frame.type) {
      case FrameType.Probe: {
        const peerNonce = verifier.checkProbe(frame);
        if (peerNonce === undefined) return this.#reject(rinfo, 'probe');
        const step = this.#nomination.onProbe();
        scheduler.send(socket, { host: rinfo.address, port: rinfo.port }, verifier.ack(peerNonce, step.reply === 'nominate'), methodOf(socket, rinfo));
        return;
      }
      case FrameType.Ack: {
        const ack = verifier.checkAck(frame);
        if (ack === undefined) return this.#reject(rinfo, 'ack');
        this.#onVerifiedAck(socket, rinfo, ack.peerNonce, ack.nominate);
        return;
      }
      case FrameType.Data:
      case FrameType.Keepalive:
        // The peer already has its connection (our last datagram to it was lost or is late):
        // keep what it sent for ours, in case this path wins.
        this.#keepEarly(pathKey(socket, rinfo.address, rinfo.port), frame);
        return;
      case FrameType.Close:
        return;
    }
  }

  /** 3./4. of the verification protocol (see Verifier): the path is live and the peer is genuine. */
  #onVerifiedAck(socket: PunchSocket, rinfo: RemoteInfo, peerNonce: Buffer, nominate: boolean): void {
    const key = pathKey(socket, rinfo.address, rinfo.port);
    const known = this.#verified.get(key);
    const path = known ?? { socket, address: rinfo.address, port: rinfo.port, peerNonce, method: this.#options.methodOf(socket, rinfo) };
    if (known === undefined) {
      this.#verified.set(key, path);
      this.#options.logger.debug({ remote: `${rinfo.address}:${rinfo.port}`, socket: socket.kind, method: path.method }, 'udp path verified');
    }
    const step = this.#nomination.onVerifiedAck(key, known === undefined, nominate);
    if (step.reply !== null) {
      const ack = this.#options.verifier.ack(path.peerNonce, step.reply === 'nominate');
      this.#options.scheduler.send(socket, { host: rinfo.address, port: rinfo.port }, ack, path.method);
    }
    if (step.succeed) this.#options.onSelected(path, this.#early.get(key) ?? [], this.#options.role === 'initiator' && !nominate);
  }

  #keepEarly(key: string, frame: Frame): void {
    if (this.#earlyFrames >= MAX_EARLY_FRAMES) return;
    this.#early.set(key, [...(this.#early.get(key) ?? []), frame]);
    this.#earlyFrames += 1;
  }

  #reject(rinfo: RemoteInfo, what: string): void {
    this.#rejected += 1;
    this.#options.logger.debug({ from: `${rinfo.address}:${rinfo.port}`, what }, 'udp punch datagram failed verification');
  }
}
