import type { RemoteInfo } from 'node:dgram';
import { StunUdpSocket } from '../../stun/index.js';
import { transportAddress } from '../../stun/addresses.js';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { isCandidate, type Candidate } from '../candidates.js';
import { AttemptTally } from './attempt-tally.js';
import { Birthday, BIRTHDAY_PACING } from './birthday.js';
import { UdpConnection, type UdpMethod } from './connection.js';
import { UdpPunchFailedError } from './errors.js';
import { DEFAULT_PUNCH_TIMEOUT_MS, type PunchUdpComponents, type PunchUdpOptions } from './options.js';
import { PathVerification, type VerifiedPath } from './path-verification.js';
import { planUdp, type UdpPlan, type UdpStrategy } from './planner.js';
import { Prediction } from './prediction.js';
import { ProbeScheduler } from './probe-scheduler.js';
import { PunchLifetime } from './punch-lifetime.js';
import { PunchSockets, type PunchSocket } from './punch-sockets.js';
import { RemoteCandidates } from './remote-candidates.js';
import { isBirthdayReady, lateCandidates, MAX_LATE_CANDIDATES, parseLateCandidates } from './signaling.js';
import type { TechniqueContext } from './technique-context.js';
import { Verifier } from './verify.js';
import type { Frame } from './wire.js';

/**
 * Behind one NAT the private path starts alone for this long: a hairpin through the NAT is about
 * as fast on a LAN and could win the race, sending every packet the long way. Only a failing LAN
 * path (two LANs behind one carrier-grade NAT) pays it.
 */
export const LAN_HEAD_START_MS = 250;

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

/** Candidates from the caller are checked up front: the engine trusts them from then on. */
function checkCandidates(options: PunchUdpOptions): void {
  if (!Array.isArray(options.remote?.candidates)) throw new InvalidArgumentError('remote.candidates must be an array');
  for (const candidate of [...options.remote.candidates, ...(options.local?.candidates ?? [])]) {
    if (!isCandidate(candidate)) throw new InvalidArgumentError(`not a candidate (kind host|srflx|predicted, IP literal, port 1-65535): ${JSON.stringify(candidate)}`);
  }
}

/** One punch: starts the planned strategies, feeds them what the peer signals, ends with the outcome. */
class UdpPunch {
  readonly #options: PunchUdpOptions;
  readonly #logger: Logger;
  readonly #verifier: Verifier;
  readonly #plan: UdpPlan;
  readonly #startAt: number;
  readonly #timeoutMs: number;
  /** What reaching the peer's public endpoint is called: no hole is punched when a side is open. */
  readonly #punchMethod: UdpMethod;
  readonly #remote: RemoteCandidates;
  readonly #lifetime: PunchLifetime;
  readonly #tally = new AttemptTally();
  readonly #sockets: PunchSockets;
  readonly #scheduler: ProbeScheduler;
  readonly #paths: PathVerification;
  readonly #birthday: Birthday;
  readonly #prediction: Prediction;
  #unsubscribe: (() => void) | undefined;
  #onAbort: (() => void) | undefined;
  #resolve!: (connection: UdpConnection) => void;
  #reject!: (error: unknown) => void;

  constructor(options: PunchUdpOptions, components: PunchUdpComponents) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'udp-punch', connectionId: options.connectionId });
    this.#verifier = new Verifier({ secret: options.secret, connectionId: options.connectionId, role: options.role });
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_PUNCH_TIMEOUT_MS;
    if (!(this.#timeoutMs > 0)) throw new InvalidArgumentError(`timeoutMs must be positive, got ${this.#timeoutMs}`);
    this.#startAt = options.startAt ?? performance.now();
    if (!Number.isFinite(this.#startAt)) throw new InvalidArgumentError('startAt must be a performance.now() time');
    checkCandidates(options);

    this.#remote = new RemoteCandidates(options.remote.candidates);
    this.#plan = planUdp(options.local?.profile, options.remote.profile, { sameNat: this.#sameNat() });
    const open = this.#plan.local === 'open' || this.#plan.remote === 'open';
    this.#punchMethod = open ? 'direct' : 'udp-punch';

    this.#lifetime = new PunchLifetime(this.#logger);
    this.#sockets = new PunchSockets({
      main: options.socket,
      bindSocket: components.bindSocket ?? ((bind) => StunUdpSocket.bind(bind)),
      lifetime: this.#lifetime,
      logger: this.#logger,
      onDatagram: (socket, bytes, rinfo) => {
        if (!this.#lifetime.settled) this.#paths.onDatagram(socket, bytes, rinfo);
      },
    });
    this.#scheduler = new ProbeScheduler({
      probe: this.#verifier.probe(),
      startAt: this.#startAt,
      lifetime: this.#lifetime,
      tally: this.#tally,
      logger: this.#logger,
    });
    this.#paths = new PathVerification({
      verifier: this.#verifier,
      role: options.role,
      scheduler: this.#scheduler,
      methodOf: (socket, rinfo) => this.#methodOf(socket, rinfo),
      onSelected: (path, early, awaitingConfirmation) => this.#succeed(path, early, awaitingConfirmation),
      logger: this.#logger,
    });
    const shared: TechniqueContext = {
      sockets: this.#sockets,
      scheduler: this.#scheduler,
      remote: this.#remote,
      lifetime: this.#lifetime,
      logger: this.#logger,
      startAt: this.#startAt,
      connectionId: options.connectionId,
      signaling: options.signaling,
    };
    this.#birthday = new Birthday({ ...shared, tally: this.#tally, portRange: options.birthdayPortRange, random: components.random ?? Math.random });
    this.#prediction = new Prediction({ ...shared, delta: options.local?.profile?.udp?.delta, stunServer: options.stunServer, signal: options.signal });
  }

  #sameNat(): boolean {
    return this.#options.sameNat ?? this.#remote.behindSameNatAs(this.#options.local?.candidates ?? []);
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
    this.#sockets.add(this.#options.socket, 'main');
    this.#onAbort = () => void this.#fail(new AbortedError('UDP punch aborted', { cause: signal?.reason }));
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#lifetime.after(this.#timeoutMs, () => {
      const cause = new TimeoutError(`no verified UDP path within ${this.#timeoutMs} ms`, this.#timeoutMs);
      void this.#fail(new UdpPunchFailedError(`UDP hole punching failed: ${cause.message}`, 'timeout', this.#tally.list(), { cause }));
    });
    this.#listenToPeer();
    this.#startStrategies();
    this.#scheduler.start();
    return promise;
  }

  #listenToPeer(): void {
    const { signaling } = this.#options;
    if (!signaling) return;
    this.#unsubscribe = signaling.onMessage((payload) => this.#onSignal(payload));
    // The peer may only know our NAT profile, not this socket's endpoints: tell it.
    const own = (this.#options.local?.candidates ?? []).filter((c) => c.kind !== 'predicted').slice(0, MAX_LATE_CANDIDATES);
    if (own.length > 0) signaling.send(lateCandidates(this.#options.connectionId, 0, own));
  }

  #startStrategies(): void {
    const [first, ...rest] = this.#plan.strategies;
    if (first?.kind === 'lan' && rest.length > 0) {
      this.#start(first);
      this.#lifetime.at(this.#startAt + LAN_HEAD_START_MS, () => {
        for (const strategy of rest) this.#start(strategy);
      });
    } else {
      for (const strategy of this.#plan.strategies) this.#start(strategy);
    }
  }

  #start(strategy: UdpStrategy): void {
    const { main } = this.#sockets;
    switch (strategy.kind) {
      case 'lan':
        for (const host of this.#remote.hosts) this.#scheduler.add(main, host, 'lan');
        return;
      case 'punch':
        for (const candidate of this.#remote.public) this.#scheduler.add(main, candidate, this.#punchMethod);
        return;
      case 'predict':
        this.#prediction.start(strategy);
        return;
      case 'birthday':
        if (strategy.role === 'sockets') this.#lifetime.background('birthday sockets', this.#birthday.openSockets(strategy.sockets));
        else this.#birthday.sprayRounds(strategy.probes, strategy.rounds);
        return;
    }
  }

  #runs(kind: UdpStrategy['kind']): boolean {
    return this.#plan.strategies.some((strategy) => strategy.kind === kind);
  }

  #onSignal(payload: object): void {
    if (this.#lifetime.settled) return;
    if (isBirthdayReady(payload, this.#options.connectionId)) return this.#birthday.onPeerReady();
    const message = parseLateCandidates(payload, this.#options.connectionId);
    if (message === undefined) return;
    this.#logger.debug({ round: message.round, candidates: message.candidates }, 'udp late candidates received');
    const predicted = message.candidates.filter((c) => c.kind === 'predicted');
    for (const candidate of message.candidates) if (candidate.kind !== 'predicted') this.#addRemoteCandidate(candidate);
    if (predicted.length > 0) this.#prediction.onPeerPredicted(message.round, predicted);
  }

  /**
   * A host or srflx candidate learnt late (e.g. the peer's punching socket was bound after the
   * broker coordinated): every running strategy that probes that kind starts probing it too.
   */
  #addRemoteCandidate(candidate: Candidate): void {
    if (!this.#remote.add(candidate)) return;
    const { main } = this.#sockets;
    if (candidate.kind === 'host') {
      if (this.#runs('lan')) this.#scheduler.add(main, candidate, 'lan');
      return;
    }
    if (this.#runs('punch')) this.#scheduler.add(main, candidate, this.#punchMethod);
    for (const socket of this.#sockets.all) {
      if (socket.kind === 'birthday') this.#scheduler.add(socket, candidate, 'udp-birthday', BIRTHDAY_PACING);
      if (this.#prediction.probesPublicFrom(socket)) this.#scheduler.add(socket, candidate, 'udp-predict');
    }
  }

  #methodOf(socket: PunchSocket, rinfo: RemoteInfo): UdpMethod {
    const targeted = this.#scheduler.methodOf(socket, rinfo.address, rinfo.port);
    if (targeted !== undefined) return targeted;
    if (socket.kind === 'birthday' || this.#birthday.sprayed(rinfo)) return 'udp-birthday';
    if (socket.kind === 'predict') return 'udp-predict';
    if (this.#remote.isHostAddress(rinfo.address)) return 'lan';
    // Behind one NAT, a peer reached at an address other than its public one was reached over
    // the LAN (its host candidate may arrive after its first probe does).
    if (this.#sameNat() && !this.#remote.isPublicAddress(rinfo.address)) return 'lan';
    return this.#punchMethod;
  }

  #settle(): boolean {
    if (!this.#lifetime.settle()) return false;
    this.#unsubscribe?.();
    if (this.#onAbort) this.#options.signal?.removeEventListener('abort', this.#onAbort);
    return true;
  }

  #succeed(path: VerifiedPath, early: Frame[], awaitingConfirmation: boolean): void {
    if (!this.#settle()) return;
    const connection = new UdpConnection({
      socket: this.#sockets.handOver(path.socket),
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
      { method: path.method, remote: `${path.address}:${path.port}`, attempts: this.#tally.list(), rejected: this.#paths.rejected },
      'udp punch succeeded',
    );
    this.#resolve(connection);
  }

  async #fail(error: unknown): Promise<void> {
    if (!this.#settle()) return;
    this.#logger.info({ err: error, attempts: this.#tally.list(), rejected: this.#paths.rejected }, 'udp punch failed');
    this.#reject(error);
    await this.#sockets.closeAll();
  }
}
