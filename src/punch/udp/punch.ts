import type { RemoteInfo } from 'node:dgram';
import { StunUdpSocket, udpBinding, type HostPort } from '../../stun/index.js';
import { transportAddress } from '../../stun/addresses.js';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { candidateKey, isCandidate, type Candidate } from '../candidates.js';
import { FULL_PORT_RANGE, predictPorts, samplePorts, type PortRange } from '../predict.js';
import { UdpConnection, type UdpConnectionOptions, type UdpMethod } from './connection.js';
import { UdpPunchFailedError, type UdpPunchAttempt } from './errors.js';
import { planUdp, type PunchProfile, type UdpPlan, type UdpStrategy } from './planner.js';
import { birthdayReady, isBirthdayReady, lateCandidates, MAX_LATE_CANDIDATES, parseLateCandidates, type SignalChannel } from './signaling.js';
import { Nomination } from './nomination.js';
import { Verifier } from './verify.js';
import { decodeFrame, FrameType, type Frame, type PunchRole } from './wire.js';

/** @default timeoutMs of punchUdp: long enough for several prediction or birthday rounds. */
export const DEFAULT_PUNCH_TIMEOUT_MS = 10_000;
/** Probes to one candidate are repeated, first after this long, then at doubling intervals... */
export const PUNCH_FIRST_RETRY_MS = 20;
/** ...up to this interval, until a path wins or the deadline passes. */
export const PUNCH_MAX_RETRY_MS = 250;
/** Granularity of the probe scheduler. */
const PUNCH_TICK_MS = 10;
/** Birthday sockets re-send towards the peer this often: a lost first packet must not cost the round. */
export const BIRTHDAY_SOCKET_REFRESH_MS = 1_000;
const BIRTHDAY_PACING = { first: BIRTHDAY_SOCKET_REFRESH_MS, max: BIRTHDAY_SOCKET_REFRESH_MS };
/** Birthday probes leave in batches, so neither our send buffer nor the NAT's conntrack is flooded. */
export const BIRTHDAY_PROBE_BATCH = 64;
export const BIRTHDAY_BATCH_INTERVAL_MS = 4;
/** A new sample of ports is probed this long after the previous round started. */
export const BIRTHDAY_ROUND_INTERVAL_MS = 1_500;
/** A sequential side makes a fresh probe and announcement this often until a path wins... */
export const PREDICT_ROUND_INTERVAL_MS = 2_500;
/** ...at most this many times. */
export const PREDICT_MAX_ROUNDS = 3;
/** Datagrams of the peer kept for the connection while the punch still runs. */
const MAX_EARLY_FRAMES = 16;
/** The fresh mapping probe of a prediction round gives up after this long. */
const PREDICT_PROBE_TIMEOUT_MS = 1_500;
/**
 * Behind one NAT the private path starts alone for this long: a hairpin through the NAT is about
 * as fast on a LAN and could win the race, sending every packet the long way. Only a failing LAN
 * path (two LANs behind one carrier-grade NAT) pays it.
 */
export const LAN_HEAD_START_MS = 250;

type SocketKind = 'main' | 'predict' | 'birthday';

interface SocketEntry {
  socket: StunUdpSocket;
  kind: SocketKind;
  id: number;
  onMessage: (bytes: Buffer, rinfo: RemoteInfo) => void;
  onError: (error: Error) => void;
}

interface Target {
  entry: SocketEntry;
  to: HostPort;
  method: UdpMethod;
  nextAt: number;
  interval: number;
  maxInterval: number;
}

interface VerifiedPath {
  entry: SocketEntry;
  address: string;
  port: number;
  peerNonce: Buffer;
  method: UdpMethod;
}

export interface PunchUdpOptions {
  /** Bound socket whose NAT mapping the broker advertised. punchUdp takes it over: it becomes the
   * connection's socket, or is closed when another socket wins or the punch fails. */
  socket: StunUdpSocket;
  role: PunchRole;
  connectionId: string;
  /** Per-connection secret from the broker (at least 16 bytes). */
  secret: Buffer;
  local?: { profile?: PunchProfile; candidates?: Candidate[] };
  remote: { candidates: Candidate[]; profile?: PunchProfile };
  /** performance.now() time of the first probes (the broker's synchronised start). @default now */
  startAt?: number;
  /** Both peers behind one NAT. @default derived: a local srflx address equals a remote one */
  sameNat?: boolean;
  signal?: AbortSignal;
  /** @default DEFAULT_PUNCH_TIMEOUT_MS (10 s) */
  timeoutMs?: number;
  /** Carries freshly predicted candidates to the peer; prediction is skipped without it. */
  signaling?: SignalChannel;
  logger?: Logger;
  /** STUN server for the fresh mapping probes of prediction; prediction is skipped without it. */
  stunServer?: HostPort;
  /** Ports a random NAT hands out, sampled by birthday probes. @default FULL_PORT_RANGE */
  birthdayPortRange?: PortRange;
  /** Keepalive, idle and MTU settings of the resulting connection. */
  connection?: UdpConnectionOptions;
}

/** Injected components (tests and benchmarks replace them). */
export interface PunchUdpComponents {
  /** Binds the extra sockets of prediction and birthday. @default StunUdpSocket.bind */
  bindSocket?: (options: { address: string }) => Promise<StunUdpSocket>;
  /** @default Math.random */
  random?: () => number;
}

/**
 * Punches a verified UDP path to the peer with every strategy the planner picks for the two NAT
 * profiles, all at once; the first path that completes a verified exchange wins and everything
 * else stops. Rejects with UdpPunchFailedError ('no-path' at once, or 'timeout' at the deadline),
 * AbortedError or InvalidArgumentError.
 */
export function punchUdp(options: PunchUdpOptions, components: PunchUdpComponents = {}): Promise<UdpConnection> {
  try {
    return new UdpPunch(options, components).run();
  } catch (error) {
    options.socket.close().catch((closeError: unknown) => options.logger?.debug({ err: closeError }, 'udp punch: socket close failed'));
    return Promise.reject(error);
  }
}

function remoteOf(entry: SocketEntry, address: string, port: number): string {
  return `${entry.id}|${address}|${port}`;
}

class UdpPunch {
  readonly #options: PunchUdpOptions;
  readonly #bindSocket: (options: { address: string }) => Promise<StunUdpSocket>;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #verifier: Verifier;
  /** One nonce per punch, so every PROBE is the same datagram. */
  readonly #probe: Buffer;
  readonly #plan: UdpPlan;
  readonly #startAt: number;
  readonly #timeoutMs: number;
  readonly #punchMethod: UdpMethod;
  readonly #remoteSrflx: Candidate[];
  readonly #remoteHosts: Candidate[];
  readonly #remoteHostAddresses: Set<string>;
  readonly #entries: SocketEntry[] = [];
  readonly #targets = new Map<string, Target>();
  readonly #verified = new Map<string, VerifiedPath>();
  readonly #attempts = new Map<string, UdpPunchAttempt>();
  /** Remote endpoints probed once each by the birthday technique (candidateKey). */
  readonly #sprayed = new Set<string>();
  /** Remote predicted candidates announced by the peer, by round. */
  readonly #remoteRounds = new Map<number, Candidate[]>();
  readonly #ownRounds = new Map<number, SocketEntry>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Paths are named by remoteOf() keys. */
  readonly #nomination: Nomination<string>;
  /** Data and keepalives that came before the punch ended, by path; MAX_EARLY_FRAMES in all. */
  readonly #early = new Map<string, Frame[]>();
  #earlyFrames = 0;
  #predict: Extract<UdpStrategy, { kind: 'predict' }> | undefined;
  /** The probing side of the birthday technique: budget left and when the last round began. */
  #birthday: { probes: number; roundsLeft: number; lastRoundAt: number | undefined } | undefined;
  #unsubscribe: (() => void) | undefined;
  #onAbort: (() => void) | undefined;
  #settled = false;
  /** Datagrams of ours that failed verification (wrong secret, connection or nonce). */
  #rejectedDatagrams = 0;
  #resolve!: (connection: UdpConnection) => void;
  #reject!: (error: unknown) => void;

  constructor(options: PunchUdpOptions, components: PunchUdpComponents) {
    this.#options = options;
    this.#bindSocket = components.bindSocket ?? ((bind) => StunUdpSocket.bind(bind));
    this.#random = components.random ?? Math.random;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'udp-punch', connectionId: options.connectionId });
    this.#verifier = new Verifier({ secret: options.secret, connectionId: options.connectionId, role: options.role });
    this.#probe = this.#verifier.probe();
    this.#nomination = new Nomination(options.role);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_PUNCH_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new InvalidArgumentError(`timeoutMs must be positive, got ${this.#timeoutMs}`);
    this.#startAt = options.startAt ?? performance.now();
    if (!Number.isFinite(this.#startAt)) throw new InvalidArgumentError('startAt must be a performance.now() time');
    if (!Array.isArray(options.remote?.candidates)) throw new InvalidArgumentError('remote.candidates must be an array');
    for (const candidate of [...options.remote.candidates, ...(options.local?.candidates ?? [])]) {
      if (!isCandidate(candidate)) throw new InvalidArgumentError(`not a candidate (kind host|srflx|predicted, IP literal, port 1-65535): ${JSON.stringify(candidate)}`);
    }

    this.#remoteSrflx = options.remote.candidates.filter((c) => c.kind !== 'host');
    const srflxKeys = new Set(this.#remoteSrflx.map(candidateKey));
    this.#remoteHosts = options.remote.candidates.filter((c) => c.kind === 'host' && !srflxKeys.has(candidateKey(c)));
    this.#remoteHostAddresses = new Set(this.#remoteHosts.map((c) => c.address));
    this.#plan = planUdp(options.local?.profile, options.remote.profile, { sameNat: this.#sameNat() });
    const open = this.#plan.local === 'open' || this.#plan.remote === 'open';
    this.#punchMethod = open ? 'direct' : 'udp-punch';
  }

  #sameNat(): boolean {
    if (this.#options.sameNat !== undefined) return this.#options.sameNat;
    const localPublic = new Set((this.#options.local?.candidates ?? []).filter((c) => c.kind === 'srflx').map((c) => c.address));
    if (localPublic.size === 0) return this.#remoteHosts.length > 0;
    return this.#remoteSrflx.some((c) => c.kind === 'srflx' && localPublic.has(c.address));
  }

  run(): Promise<UdpConnection> {
    const promise = new Promise<UdpConnection>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const { signal } = this.#options;
    if (signal?.aborted) {
      void this.#fail(new AbortedError('UDP punch aborted', { cause: signal.reason }));
      return promise;
    }
    if (this.#plan.strategies.length === 0) {
      void this.#fail(new UdpPunchFailedError(this.#plan.noPathReason ?? 'no direct UDP path', 'no-path', []));
      return promise;
    }
    this.#logger.debug({ plan: this.#plan, role: this.#options.role }, 'udp punch planned');
    this.#addEntry(this.#options.socket, 'main');
    this.#onAbort = () => void this.#fail(new AbortedError('UDP punch aborted', { cause: signal?.reason }));
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#after(this.#timeoutMs, () => {
      const cause = new TimeoutError(`no verified UDP path within ${this.#timeoutMs} ms`, this.#timeoutMs);
      void this.#fail(new UdpPunchFailedError(`UDP hole punching failed: ${cause.message}`, 'timeout', this.#attemptList(), { cause }));
    });
    const { signaling } = this.#options;
    if (signaling) {
      this.#unsubscribe = signaling.onMessage((payload) => this.#onSignal(payload));
      // The peer may only know our NAT profile, not this socket's endpoints: tell it.
      const own = (this.#options.local?.candidates ?? []).filter((c) => c.kind !== 'predicted').slice(0, MAX_LATE_CANDIDATES);
      if (own.length > 0) signaling.send(lateCandidates(this.#options.connectionId, 0, own));
    }
    const [first, ...rest] = this.#plan.strategies;
    if (first?.kind === 'lan' && rest.length > 0) {
      this.#start(first);
      this.#at(this.#startAt + LAN_HEAD_START_MS, () => {
        if (!this.#settled) for (const strategy of rest) this.#start(strategy);
      });
    } else {
      for (const strategy of this.#plan.strategies) this.#start(strategy);
    }
    this.#at(this.#startAt, () => this.#tick());
    return promise;
  }

  // --- strategies -------------------------------------------------------------------------

  #start(strategy: UdpStrategy): void {
    const main = this.#entries[0]!;
    switch (strategy.kind) {
      case 'lan':
        for (const host of this.#remoteHosts) this.#addTarget(main, host, 'lan');
        return;
      case 'punch':
        for (const srflx of this.#remoteSrflx) this.#addTarget(main, srflx, this.#punchMethod);
        return;
      case 'predict':
        this.#predict = strategy;
        if (strategy.announce) this.#startPrediction(strategy);
        return;
      case 'birthday':
        if (strategy.role === 'sockets') this.#background('birthday sockets', this.#openBirthdaySockets(strategy.sockets));
        else this.#sprayBirthdayRounds(strategy.probes, strategy.rounds);
        return;
    }
  }

  #startPrediction(strategy: Extract<UdpStrategy, { kind: 'predict' }>): void {
    const { signaling, stunServer } = this.#options;
    const delta = this.#options.local?.profile?.udp?.delta;
    if (!signaling || !stunServer || delta === undefined) {
      this.#logger.warn({ signaling: !!signaling, stunServer: !!stunServer, delta }, 'udp prediction skipped: needs signaling, a STUN server and the NAT delta');
      return;
    }
    for (let round = 0; round < PREDICT_MAX_ROUNDS; round++) {
      const run = () => this.#background(`prediction round ${round}`, this.#predictRound(strategy, round, delta, stunServer, signaling));
      if (round === 0) run();
      else this.#at(this.#startAt + round * PREDICT_ROUND_INTERVAL_MS, run);
    }
  }

  /**
   * 1. A new socket makes a fresh mapping towards the STUN server (port q).
   * 2. The next mappings of the sequential NAT will be q + delta, q + 2 delta, ...: announced.
   * 3. The socket sends to the peer (its srflx, or the one port the peer predicted this round),
   *    which makes the mapping that was predicted.
   */
  async #predictRound(strategy: Extract<UdpStrategy, { kind: 'predict' }>, round: number, delta: number, stunServer: HostPort, signaling: SignalChannel): Promise<void> {
    const entry = this.#addEntry(await this.#bindSocket({ address: this.#bindAddress() }), 'predict');
    if (this.#settled) return;
    const probe = await udpBinding({ server: stunServer, socket: entry.socket, timeoutMs: PREDICT_PROBE_TIMEOUT_MS, signal: this.#options.signal });
    if (this.#settled) return;
    const ports = predictPorts({ lastPort: probe.mapped.port, delta, window: strategy.window });
    const candidates: Candidate[] = ports.map((port) => ({ kind: 'predicted', address: probe.mapped.address, port }));
    this.#logger.debug({ round, fresh: probe.mapped, predicted: ports }, 'udp prediction announced');
    signaling.send(lateCandidates(this.#options.connectionId, round, candidates));
    this.#ownRounds.set(round, entry);
    if (strategy.target === 'srflx') {
      for (const srflx of this.#remoteSrflx) this.#addTarget(entry, srflx, 'udp-predict');
    } else {
      this.#matchRound(round);
    }
  }

  /** Sequential on both sides: this round's socket probes exactly what the peer predicted this round. */
  #matchRound(round: number): void {
    const entry = this.#ownRounds.get(round);
    const remote = this.#remoteRounds.get(round);
    if (entry === undefined || remote === undefined || this.#predict?.target !== 'predicted') return;
    for (const candidate of remote) this.#addTarget(entry, candidate, 'udp-predict');
  }

  #onSignal(payload: object): void {
    if (this.#settled) return;
    if (isBirthdayReady(payload, this.#options.connectionId)) return this.#onBirthdayReady();
    const message = parseLateCandidates(payload, this.#options.connectionId);
    if (message === undefined) return;
    this.#logger.debug({ round: message.round, candidates: message.candidates }, 'udp late candidates received');
    const predicted = message.candidates.filter((c) => c.kind === 'predicted');
    for (const candidate of message.candidates) if (candidate.kind !== 'predicted') this.#addRemoteCandidate(candidate);
    if (predicted.length === 0) return;
    this.#remoteRounds.set(message.round, [...(this.#remoteRounds.get(message.round) ?? []), ...predicted]);
    if (this.#predict?.probePredicted) {
      if (this.#predict.target === 'srflx') for (const candidate of predicted) this.#addTarget(this.#entries[0]!, candidate, 'udp-predict');
      else this.#matchRound(message.round);
    }
  }

  /**
   * A host or srflx candidate learnt late (e.g. the peer's punching socket was bound after the
   * broker coordinated): every running strategy that probes that kind starts probing it too.
   */
  #addRemoteCandidate(candidate: Candidate): void {
    const key = candidateKey(candidate);
    if ([...this.#remoteHosts, ...this.#remoteSrflx].some((known) => candidateKey(known) === key)) return;
    const main = this.#entries[0]!;
    if (candidate.kind === 'host') {
      this.#remoteHosts.push(candidate);
      this.#remoteHostAddresses.add(candidate.address);
      if (this.#runs('lan')) this.#addTarget(main, candidate, 'lan');
      return;
    }
    this.#remoteSrflx.push(candidate);
    if (this.#runs('punch')) this.#addTarget(main, candidate, this.#punchMethod);
    const predicting = new Set(this.#ownRounds.values());
    for (const entry of this.#entries) {
      if (entry.kind === 'birthday') this.#addTarget(entry, candidate, 'udp-birthday', BIRTHDAY_PACING);
      if (predicting.has(entry) && this.#predict?.target === 'srflx') this.#addTarget(entry, candidate, 'udp-predict');
    }
  }

  #runs(kind: UdpStrategy['kind']): boolean {
    return this.#plan.strategies.some((strategy) => strategy.kind === kind);
  }

  /** The symmetric side: many mappings towards the peer's one endpoint, for its probes to find. */
  async #openBirthdaySockets(count: number): Promise<void> {
    const address = this.#bindAddress();
    const bound = await Promise.allSettled(Array.from({ length: count }, () => this.#bindSocket({ address })));
    const failures = bound.filter((result) => result.status === 'rejected');
    if (failures.length > 0) this.#logger.warn({ failed: failures.length, reason: String(failures[0]!.reason) }, 'some birthday sockets could not be bound');
    for (const result of bound) {
      if (result.status !== 'fulfilled') continue;
      if (this.#settled) {
        this.#background('late birthday socket close', result.value.close());
        continue;
      }
      const entry = this.#addEntry(result.value, 'birthday');
      for (const srflx of this.#remoteSrflx) {
        this.#addTarget(entry, srflx, 'udp-birthday', BIRTHDAY_PACING);
      }
    }
    if (!this.#settled) this.#options.signaling?.send(birthdayReady(this.#options.connectionId));
  }

  /**
   * The endpoint-independent side: probes random ports of the symmetric side's public address,
   * one sample of `probes` ports per round, at the start and then every BIRTHDAY_ROUND_INTERVAL_MS.
   */
  #sprayBirthdayRounds(probes: number, rounds: number): void {
    this.#birthday = { probes, roundsLeft: rounds, lastRoundAt: undefined };
    for (let round = 0; round < rounds; round++) this.#at(this.#startAt + round * BIRTHDAY_ROUND_INTERVAL_MS, () => this.#birthdayRound());
  }

  /**
   * The peer's sockets opened after our last round began (its start was late): that round probed
   * ports no mapping could hold yet, so spend the next round now instead of waiting.
   */
  #onBirthdayReady(): void {
    const lastRoundAt = this.#birthday?.lastRoundAt;
    if (lastRoundAt === undefined) return;
    this.#logger.debug({ sinceLastRoundMs: Math.round(performance.now() - lastRoundAt) }, 'birthday sockets of the peer ready after our round began');
    this.#birthdayRound();
  }

  #birthdayRound(): void {
    const birthday = this.#birthday;
    if (birthday === undefined || birthday.roundsLeft <= 0) return;
    // Read at each round: the peer's srflx may have arrived late through signaling.
    const address = this.#remoteSrflx.find((c) => c.kind === 'srflx')?.address;
    if (address === undefined) {
      this.#logger.warn({}, 'birthday round skipped: no server-reflexive candidate of the peer yet');
      return;
    }
    birthday.roundsLeft -= 1;
    birthday.lastRoundAt = performance.now();
    const range = this.#options.birthdayPortRange ?? FULL_PORT_RANGE;
    const ports = samplePorts(birthday.probes, range, this.#random).filter((port) => !this.#sprayed.has(candidateKey({ address, port })));
    this.#sprayBatch(address, ports, 0);
  }

  #sprayBatch(address: string, ports: number[], from: number): void {
    if (this.#settled) return;
    const main = this.#entries[0]!;
    const end = Math.min(ports.length, from + BIRTHDAY_PROBE_BATCH);
    for (let i = from; i < end; i++) {
      const to = { host: address, port: ports[i]! };
      this.#sprayed.add(candidateKey({ address, port: to.port }));
      this.#send(main, to, this.#probe, 'udp-birthday');
    }
    this.#attempt('udp-birthday').targets += end - from;
    if (end < ports.length) this.#after(BIRTHDAY_BATCH_INTERVAL_MS, () => this.#sprayBatch(address, ports, end));
  }

  // --- probing ------------------------------------------------------------------------------

  #addTarget(entry: SocketEntry, candidate: { address: string; port: number }, method: UdpMethod, pacing?: { first: number; max: number }): void {
    const key = remoteOf(entry, candidate.address, candidate.port);
    if (this.#settled || this.#targets.has(key)) return;
    this.#targets.set(key, {
      entry,
      to: { host: candidate.address, port: candidate.port },
      method,
      nextAt: Math.max(this.#startAt, performance.now()),
      interval: pacing?.first ?? PUNCH_FIRST_RETRY_MS,
      maxInterval: pacing?.max ?? PUNCH_MAX_RETRY_MS,
    });
    this.#attempt(method).targets += 1;
  }

  #tick(): void {
    if (this.#settled) return;
    const now = performance.now();
    for (const target of this.#targets.values()) {
      if (target.nextAt > now) continue;
      this.#send(target.entry, target.to, this.#probe, target.method);
      target.nextAt = now + target.interval;
      target.interval = Math.min(target.interval * 2, target.maxInterval);
    }
    this.#after(PUNCH_TICK_MS, () => this.#tick());
  }

  #send(entry: SocketEntry, to: HostPort, bytes: Buffer, method: UdpMethod): void {
    try {
      entry.socket.send(bytes, to);
      this.#attempt(method).packetsSent += 1;
    } catch (error) {
      // A socket closed underneath us (by its former owner): the other paths carry on.
      this.#logger.warn({ err: error, socket: entry.kind }, 'udp punch send failed');
    }
  }

  // --- verification -------------------------------------------------------------------------

  #onPacket(entry: SocketEntry, bytes: Buffer, rinfo: RemoteInfo): void {
    if (this.#settled) return;
    const frame = decodeFrame(bytes);
    if (frame === undefined) return;
    const from = { host: rinfo.address, port: rinfo.port };
    switch (frame.type) {
      case FrameType.Probe: {
        const peerNonce = this.#verifier.checkProbe(frame);
        if (peerNonce === undefined) return this.#rejected(rinfo, 'probe');
        const step = this.#nomination.onProbe();
        this.#send(entry, from, this.#verifier.ack(peerNonce, step.reply === 'nominate'), this.#methodFor(entry, rinfo));
        return;
      }
      case FrameType.Ack: {
        const ack = this.#verifier.checkAck(frame);
        if (ack === undefined) return this.#rejected(rinfo, 'ack');
        this.#onVerifiedAck(entry, rinfo, ack.peerNonce, ack.nominate);
        return;
      }
      case FrameType.Data:
      case FrameType.Keepalive:
        // The peer already has its connection (our last datagram to it was lost or is late):
        // keep what it sent for ours, in case this path wins.
        if (this.#earlyFrames < MAX_EARLY_FRAMES) {
          const key = remoteOf(entry, rinfo.address, rinfo.port);
          this.#early.set(key, [...(this.#early.get(key) ?? []), frame]);
          this.#earlyFrames += 1;
        }
        return;
      case FrameType.Close:
        return;
    }
  }

  /** 3./4. of the verification protocol (see Verifier): the path is live and the peer is genuine. */
  #onVerifiedAck(entry: SocketEntry, rinfo: RemoteInfo, peerNonce: Buffer, nominate: boolean): void {
    const key = remoteOf(entry, rinfo.address, rinfo.port);
    const known = this.#verified.get(key);
    const path = known ?? { entry, address: rinfo.address, port: rinfo.port, peerNonce, method: this.#methodFor(entry, rinfo) };
    if (known === undefined) {
      this.#verified.set(key, path);
      this.#logger.debug({ remote: `${rinfo.address}:${rinfo.port}`, socket: entry.kind, method: path.method }, 'udp path verified');
    }
    const step = this.#nomination.onVerifiedAck(key, known === undefined, nominate);
    if (step.reply !== null) {
      this.#send(entry, { host: rinfo.address, port: rinfo.port }, this.#verifier.ack(path.peerNonce, step.reply === 'nominate'), path.method);
    }
    // The initiator's connection repeats the nomination until the responder's confirmation.
    if (step.succeed) this.#succeed(path, this.#early.get(key) ?? [], this.#options.role === 'initiator' && !nominate);
  }

  #methodFor(entry: SocketEntry, rinfo: RemoteInfo): UdpMethod {
    const target = this.#targets.get(remoteOf(entry, rinfo.address, rinfo.port));
    if (target !== undefined) return target.method;
    if (entry.kind === 'birthday' || this.#sprayed.has(candidateKey(rinfo))) return 'udp-birthday';
    if (entry.kind === 'predict') return 'udp-predict';
    if (this.#remoteHostAddresses.has(rinfo.address)) return 'lan';
    // Behind one NAT, a peer reached at an address other than its public one was reached over
    // the LAN (its host candidate may arrive after its first probe does).
    if (this.#sameNat() && !this.#remoteSrflx.some((srflx) => srflx.address === rinfo.address)) return 'lan';
    return this.#punchMethod;
  }

  #rejected(rinfo: RemoteInfo, what: string): void {
    this.#rejectedDatagrams += 1;
    this.#logger.debug({ from: `${rinfo.address}:${rinfo.port}`, what }, 'udp punch datagram failed verification');
  }

  // --- sockets, timers, outcome -------------------------------------------------------------

  #addEntry(socket: StunUdpSocket, kind: SocketKind): SocketEntry {
    const entry: SocketEntry = {
      socket,
      kind,
      id: this.#entries.length,
      onMessage: (bytes, rinfo) => this.#onPacket(entry, bytes, rinfo),
      onError: (error) => this.#logger.debug({ err: error, socket: kind }, 'udp punch socket error'),
    };
    socket.on('message', entry.onMessage);
    socket.on('error', entry.onError);
    this.#entries.push(entry);
    if (this.#settled) this.#background('late socket release', this.#release(entry));
    return entry;
  }

  #bindAddress(): string {
    return this.#options.socket.local().address;
  }

  async #release(entry: SocketEntry): Promise<void> {
    entry.socket.off('message', entry.onMessage);
    try {
      await entry.socket.close();
    } finally {
      entry.socket.off('error', entry.onError);
    }
  }

  #at(time: number, callback: () => void): void {
    this.#after(time - performance.now(), callback);
  }

  #after(ms: number, callback: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#settled) callback();
    }, Math.max(0, ms));
    this.#timers.add(timer);
  }

  #background(what: string, task: Promise<void>): void {
    task.catch((error: unknown) => {
      // After the outcome, failures of leftover work (a probe cut short by closing) are expected.
      if (this.#settled) this.#logger.debug({ err: error }, `udp punch: ${what} ended`);
      else this.#logger.warn({ err: error }, `udp punch: ${what} failed`);
    });
  }

  #attempt(strategy: string): UdpPunchAttempt {
    let attempt = this.#attempts.get(strategy);
    if (attempt === undefined) {
      attempt = { strategy, packetsSent: 0, targets: 0 };
      this.#attempts.set(strategy, attempt);
    }
    return attempt;
  }

  #attemptList(): UdpPunchAttempt[] {
    return [...this.#attempts.values()];
  }

  #settle(): void {
    this.#settled = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#unsubscribe?.();
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
  }

  #succeed(path: VerifiedPath, early: Frame[], awaitingConfirmation: boolean): void {
    if (this.#settled) return;
    this.#settle();
    path.entry.socket.off('message', path.entry.onMessage);
    path.entry.socket.off('error', path.entry.onError);
    for (const entry of this.#entries) if (entry !== path.entry) this.#background('socket release', this.#release(entry));
    const connection = new UdpConnection({
      socket: path.entry.socket,
      remote: transportAddress(path.address, path.port),
      method: path.method,
      verifier: this.#verifier,
      peerNonce: path.peerNonce,
      early,
      awaitingConfirmation,
      options: this.#options.connection,
      logger: this.#logger,
    });
    this.#logger.info(
      { method: path.method, remote: `${path.address}:${path.port}`, attempts: this.#attemptList(), rejected: this.#rejectedDatagrams },
      'udp punch succeeded',
    );
    this.#resolve(connection);
  }

  async #fail(error: unknown): Promise<void> {
    if (this.#settled) return;
    this.#settle();
    this.#logger.info({ err: error, attempts: this.#attemptList(), rejected: this.#rejectedDatagrams }, 'udp punch failed');
    this.#reject(error);
    const releases = this.#entries.length > 0 ? this.#entries.map((entry) => this.#release(entry)) : [this.#options.socket.close()];
    const released = await Promise.allSettled(releases);
    for (const result of released) {
      if (result.status === 'rejected') this.#logger.debug({ err: result.reason }, 'udp punch socket close failed');
    }
  }
}
