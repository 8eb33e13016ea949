/**
 * The TCP hole-punching engine: runs the planner's stages in the time slots both peers share
 * (counted from the broker's synchronised start), offers every stream that connects to the
 * verification handshake, and returns the first verified one.
 *
 * What Node's socket API allows, measured (see docs in the report and test/punch/tcp*):
 * - `net.connect({ localPort })` binds with SO_REUSEADDR, so several connects share one port;
 * - a listener may be opened on that port AFTER the connects (Linux accepts listen() while the
 *   other sockets on the port are not listening); a SYN from the endpoint a connect targets then
 *   completes as a simultaneous open on that connect, any other SYN reaches the listener;
 * - a connect from the port while the listener exists fails with EADDRINUSE (no SO_REUSEPORT), so
 *   stages that redial do not listen, and STUNT #2's opener listens only after its last dial.
 */
import net from 'node:net';
import type { NatProfile } from '../../discovery/profile.js';
import { AbortedError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observe/logger.js';
import { tcpBinding } from '../../stun/index.js';
import { normalizeCandidates, type Candidate } from '../candidates.js';
import { birthdaySuccessProbability, FULL_PORT_RANGE, predictPorts, samplePorts } from '../predict.js';
import { TcpPunchFailedError, type TcpPunchAttempt } from './errors.js';
import { selectStream, verifyStream, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js';
import { natViewOf, planTcp, stageOffsets, type PunchRole, type TcpMethod, type TcpNatView, type TcpPlan, type TcpStage } from './planner.js';
import { ANY_STAGE, SignalInbox, type SignalChannel, type TcpSignal } from './signals.js';
import { PunchTimeline, type PunchStep } from './timeline.js';
import { armTcpPort, freePort } from './ready-port.js';
import { afterPollPhase, setIoTimeout } from '../../util/io-timeout.js';
import { gridRoundAt, gridRounds, gridPeriodMs, MAX_PORT_MOVES, STALLS_BEFORE_MOVE, stalledDialMs } from './grid.js';

/** @default for `timeoutMs`: long enough for every stage of the longest plan. */
export const DEFAULT_PUNCH_TIMEOUT_MS = 15_000;
/** TCP keepalive idle time on the returned socket: well under the shortest NAT idle timers seen. */
export const KEEPALIVE_INITIAL_DELAY_MS = 15_000;
/** The last part of the wait before a round is spun: timers are only millisecond-accurate. */
export const PRECISE_SPIN_MS = 2;
/** Jitter on other redials, so two peers' retries do not lock into the same losing phase. */
export const REDIAL_JITTER_MS = 3;
/** The first volley of a cone pair leaves before the synchronised start only when that is at least this far off. */
export const EARLY_VOLLEY_MIN_LEAD_MS = 20;
/** Failure notes kept per stage. */
const MAX_NOTES = 8;
/** Redials per target and stage: bounds the SYNs a RST-answering pair can cost. */
export const MAX_REDIALS_PER_TARGET = 200;
/** A listener that is not up yet refuses the first SYN: retry the dial after this. */
export const LISTENER_REDIAL_MS = 50;
/** STUNT #2 opener: how long to watch its SYN for a RST from the far NAT, relative to the probe RTT. */
export const OPENER_SETTLE_RTTS = 3;
export const OPENER_SETTLE_MIN_MS = 150;
export const OPENER_SETTLE_MAX_MS = 1000;
/** STUNT #2 opener without a measured RTT. */
export const OPENER_SETTLE_DEFAULT_MS = 300;
/** Fresh mapping probes for prediction must be quick or the stage slot is lost anyway. */
export const PROBE_TIMEOUT_MS = 1500;
/** How many predicted ports are dialled on a sequential NAT. */
export const PREDICTION_WINDOW = 6;
/** A connected stream whose peer sent no HELLO by then is a half-open leftover of a lost race. */
export const HELLO_TIMEOUT_RTTS = 4;
export const HELLO_TIMEOUT_MIN_MS = 250;
export const HELLO_TIMEOUT_DEFAULT_MS = 500;
/** Birthday technique: holes the random side opens, probes the cone side sends (p ~ 0.87 over 1024-65535). */
export const BIRTHDAY_HOLES = 256;
export const BIRTHDAY_PROBES = 512;
/** An opener whose SYNs were refused at least this often faces a NAT that answers RST. */
const REFUSED_SHARE = 0.9;
/** Streams the opener's listener holds at once (strays included). */
export const MAX_LISTENER_CONNECTIONS = 8;

type ConnectOutcome = 'connected' | 'refused' | 'failed' | 'port-busy' | 'stalled';

export interface TcpEndpoint {
  address: string;
  port: number;
}

export interface PunchTcpOptions {
  role: PunchRole;
  connectionId: string;
  /** The broker's per-connection secret; both sides prove they know it. At least 16 bytes. */
  secret: Buffer;
  /**
   * `port`: the local port whose mapping was advertised; without it a fresh port is taken (and
   * probed when a STUN server is given). `mapped`: that port's public mapping, announced to a peer
   * that waits for one. `rttMs`: a known round trip (to the STUN server) for the settle and
   * half-open timers, instead of measuring one from the port.
   */
  local: { profile?: NatProfile; port?: number; address?: string; mapped?: { address: string; port: number }; rttMs?: number };
  /**
   * `announcesPort`: the peer punches from a fresh port and announces it (with its mapping) through
   * signaling, so the candidates' ports are not the ones to dial. @default true when `local.port` is absent
   */
  remote: { candidates: Candidate[]; profile?: NatProfile; announcesPort?: boolean };
  /** Broker-synchronised start, a `performance.now()` time on this host (as the broker client gives it). */
  startAt: number;
  signal?: AbortSignal;
  /** @default DEFAULT_PUNCH_TIMEOUT_MS */
  timeoutMs?: number;
  /** Needed by STUNT #2 and prediction; stages that need it are skipped without it. */
  signaling?: SignalChannel;
  logger?: Logger;
  /** STUN server (TCP) for fresh mapping probes before prediction. */
  stunServer?: { host: string; port: number };
  /** `performance.now()` time the result's `timeline` counts from. @default when punchTcp is called */
  origin?: number;
}

export interface PunchTcpResult {
  socket: net.Socket;
  method: TcpMethod;
  /** TCP connects made in all (the winning one included). */
  attempts: number;
  /** Every stage run, the winning one last. */
  stages: readonly TcpPunchAttempt[];
  /** ms from `origin` to the first occurrence of each step (also logged at debug level). */
  timeline: Readonly<Partial<Record<PunchStep, number>>>;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** AbortSignal.timeout wants a non-negative integer; slot arithmetic gives fractions. */
function timeoutSignal(ms: number): AbortSignal {
  return AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
}

/** Waits until `at` (a performance.now() time) to within a few microseconds. */
async function sleepPrecisely(at: number, signal: AbortSignal): Promise<void> {
  await sleep(at - performance.now() - PRECISE_SPIN_MS, signal);
  while (!signal.aborted && performance.now() < at) {
    // Spinning: a timer would fire up to a millisecond late.
  }
}

function endpointKey(endpoint: TcpEndpoint): string {
  return `${endpoint.address}:${endpoint.port}`;
}

/** Per-stage bookkeeping, reported as one TcpPunchAttempt. */
interface StageRun {
  index: number;
  /** The stage's method, unless the stage fell back to another technique. */
  method: TcpMethod;
  slotStart: number;
  stage: TcpStage;
  signal: AbortSignal;
  endAt: number;
  dials: number;
  refused: number;
  notes: string[];
  sockets: Set<net.Socket>;
  servers: Set<net.Server>;
}

class TcpPunch {
  readonly #options: PunchTcpOptions;
  readonly #logger: Logger;
  readonly #localView: TcpNatView;
  readonly #remoteView: TcpNatView;
  readonly #plan: TcpPlan;
  readonly #done = new AbortController();
  readonly #attempts: TcpPunchAttempt[] = [];
  readonly #verifying = new Set<Promise<void>>();
  #inbox: SignalInbox | undefined;
  #localAddress = '0.0.0.0';
  #localPort = 0;
  /** The whole punch's signal and deadline (a performance.now() time), set when it starts. */
  #overall: AbortSignal | undefined;
  #deadlineAt = 0;
  #probeRttMs: number | undefined;
  /** What the last successful probe learned, and how many connects had been made by then. */
  #lastMapping: { mapping: { address: string; port: number; delta?: number }; dials: number } | undefined;
  #announced: Promise<TcpSignal | undefined> | undefined;
  #dials = 0;
  #winner: { socket: net.Socket; method: TcpMethod; stage: number } | undefined;
  #onWin: (() => void) | undefined;
  /** The peer's public endpoint after it moved to a fresh port (replaces its candidates on the grid). */
  #remoteMoved: TcpEndpoint | undefined;
  #moves = 0;
  readonly #timeline: PunchTimeline;

  constructor(options: PunchTcpOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'punch-tcp', connectionId: options.connectionId, role: options.role });
    this.#timeline = new PunchTimeline(options.origin ?? performance.now(), this.#logger);
    const remoteSrflx = options.remote.candidates.find((candidate) => candidate.kind === 'srflx');
    this.#localView = natViewOf(options.local.profile);
    this.#remoteView = natViewOf(options.remote.profile, remoteSrflx?.address);
    const [initiator, responder] = options.role === 'initiator' ? [this.#localView, this.#remoteView] : [this.#remoteView, this.#localView];
    this.#plan = planTcp(initiator, responder);
  }

  async run(): Promise<PunchTcpResult> {
    const startedAt = performance.now();
    if (this.#plan.impossible !== undefined) {
      const attempt: TcpPunchAttempt = { method: 'none', stage: -1, outcome: 'skipped', reason: this.#plan.impossible, dials: 0, elapsedMs: 0 };
      throw new TcpPunchFailedError(`no TCP path: ${this.#plan.impossible}`, 'no-path', [attempt]);
    }
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_PUNCH_TIMEOUT_MS;
    const deadline = timeoutSignal(timeoutMs);
    const signals = [deadline, this.#done.signal, ...(this.#options.signal ? [this.#options.signal] : [])];
    const overall = AbortSignal.any(signals);
    this.#overall = overall;
    this.#deadlineAt = performance.now() + timeoutMs;
    if (this.#options.signaling) this.#inbox = new SignalInbox(this.#options.signaling, this.#options.connectionId, this.#logger);
    try {
      await this.#prepareLocalPort(overall);
      const offsets = stageOffsets(this.#plan);
      for (const [index, stage] of this.#plan.stages.entries()) {
        if (overall.aborted) break;
        const slotStart = this.#options.startAt + offsets[index]!;
        const endAt = slotStart + stage.durationMs;
        if (endAt <= performance.now()) {
          this.#record({ method: stage.method, stage: index, outcome: 'skipped', reason: 'its time slot had passed', dials: 0, elapsedMs: 0 });
          continue;
        }
        if (!this.#startsEarly(stage, index)) await sleep(slotStart - performance.now(), overall);
        if (overall.aborted) break;
        this.#timeline.mark('stage-start');
        await this.#runStage(index, stage, endAt, overall);
      }
      if (!this.#winner && !overall.aborted && this.#verifying.size > 0) await this.#waitForVerifications(overall);
    } finally {
      this.#inbox?.close();
    }
    if (this.#winner) return this.#result(this.#winner);
    if (this.#options.signal?.aborted) throw new AbortedError('TCP punch aborted', { cause: this.#options.signal.reason });
    if (deadline.aborted) {
      const timeout = new TimeoutError(`no verified TCP connection within ${timeoutMs} ms`, timeoutMs);
      throw new TcpPunchFailedError(`TCP punch timed out after ${Math.round(performance.now() - startedAt)} ms: ${this.#summary()}`, 'timeout', this.#attempts, { cause: timeout });
    }
    throw new TcpPunchFailedError(`every TCP strategy failed: ${this.#summary()}`, 'exhausted', this.#attempts);
  }

  #summary(): string {
    return this.#attempts.map((attempt) => `${attempt.method}: ${attempt.reason}`).join('; ') || 'nothing tried';
  }

  #result(winner: { socket: net.Socket; method: TcpMethod; stage: number }): PunchTcpResult {
    winner.socket.setNoDelay(true);
    winner.socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    return { socket: winner.socket, method: winner.method, attempts: this.#dials, stages: this.#attempts, timeline: this.#timeline.steps };
  }

  #record(attempt: TcpPunchAttempt): void {
    this.#attempts.push(attempt);
    this.#logger.debug({ ...attempt }, 'tcp punch stage');
  }

  async #prepareLocalPort(signal: AbortSignal): Promise<void> {
    const profile = this.#options.local.profile;
    this.#localAddress = this.#options.local.address ?? profile?.tcp?.local?.address ?? profile?.local.address ?? '0.0.0.0';
    if (this.#options.local.port !== undefined) {
      this.#localPort = this.#options.local.port;
      this.#probeRttMs = this.#options.local.rttMs;
      // An RTT for the settle and half-open timers, measured while waiting for the start; only
      // where one more mapping costs nothing (a sequential NAT would shift its predicted port).
      if (this.#probeRttMs === undefined && this.#localView.mapping === 'cone') void this.#probe(signal);
      this.#timeline.mark('port-ready');
      // A peer that did not get this port from the broker (an older one) waits for it.
      const mapped = this.#options.local.mapped;
      if (mapped) this.#inbox?.send(ANY_STAGE, 'mapping', { ...mapped, hostAddress: this.#localAddress, hostPort: this.#localPort });
      return;
    }
    this.#localPort = await freePort(this.#localAddress);
    // Nobody advertised this port or its mapping: learn the mapping and tell the peer (the peer,
    // called the same way, does likewise; cone NATs keep the mapping for the stages to come).
    const mapping = await this.#probe(signal);
    this.#timeline.mark('port-ready');
    this.#inbox?.send(ANY_STAGE, 'mapping', { ...mapping, hostAddress: this.#localAddress, hostPort: this.#localPort });
    this.#timeline.mark('mapping-sent');
  }

  async #probe(signal: AbortSignal): Promise<{ address: string; port: number } | undefined> {
    const server = this.#options.stunServer;
    if (!server) return undefined;
    try {
      const result = await tcpBinding({ server, localPort: this.#localPort, localAddress: this.#localAddress, timeoutMs: PROBE_TIMEOUT_MS, signal });
      this.#probeRttMs = result.rttMs;
      const delta = this.#localView.delta;
      const mapping = { address: result.mapped.address, port: result.mapped.port, ...(delta !== undefined ? { delta } : {}) };
      this.#lastMapping = { mapping, dials: this.#dials };
      return mapping;
    } catch (error) {
      const level = signal.aborted ? 'debug' : 'warn';
      this.#logger[level]({ err: error }, 'TCP mapping probe failed; going on with the advertised candidates');
      return undefined;
    }
  }

  async #waitForVerifications(signal: AbortSignal): Promise<void> {
    const giveUp = AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_HANDSHAKE_TIMEOUT_MS)]);
    while (!this.#winner && this.#verifying.size > 0 && !giveUp.aborted) {
      await Promise.race([Promise.allSettled([...this.#verifying]), sleep(DEFAULT_HANDSHAKE_TIMEOUT_MS, giveUp)]);
    }
  }

  async #runStage(index: number, stage: TcpStage, endAt: number, overall: AbortSignal): Promise<void> {
    const stageSignal = AbortSignal.any([overall, timeoutSignal(endAt - performance.now())]);
    const run: StageRun = { index, method: stage.method, slotStart: endAt - stage.durationMs, stage, signal: stageSignal, endAt, dials: 0, refused: 0, notes: [], sockets: new Set(), servers: new Set() };
    const startedAt = performance.now();
    const won = new Promise<void>((resolve) => {
      this.#onWin = resolve;
      if (this.#winner) resolve();
    });
    try {
      const reason = await Promise.race([this.#technique(run), won.then(() => undefined)]);
      if (reason !== undefined) run.notes.push(reason);
      if (!this.#winner) await Promise.race([won, sleep(endAt - performance.now(), stageSignal)]);
    } finally {
      for (const socket of run.sockets) socket.destroy();
      for (const server of run.servers) closeListener(server);
    }
    const connected = this.#winner?.stage === index;
    const reason = connected ? ['verified stream', ...run.notes].join('; ') : this.#failureReason(run);
    this.#record({ method: run.method, stage: index, outcome: connected ? 'connected' : run.dials === 0 && run.servers.size === 0 && run.notes.length > 0 ? 'skipped' : 'failed', reason, dials: run.dials, elapsedMs: Math.round(performance.now() - startedAt) });
  }

  #failureReason(run: StageRun): string {
    const parts = [...run.notes];
    if (run.dials > 0) parts.push(`${run.dials} SYNs, ${run.refused} refused (RST), no verified stream before the slot ended`);
    return parts.join('; ') || 'no connection before the slot ended';
  }

  /** Starts the stage's technique; resolves with a note when it cannot run (e.g. no signaling). */
  async #technique(run: StageRun): Promise<string | undefined> {
    switch (run.stage.technique) {
      case 'listen-dial':
        return this.#listenDial(run);
      case 'simultaneous-open':
        return this.#simultaneousOpen(run);
      case 'asymmetric':
        return this.#asymmetric(run);
    }
  }

  // 1./2. One side listens, the other dials (direct, reversal, LAN).
  async #listenDial(run: StageRun): Promise<string | undefined> {
    if (run.stage.lead === this.#options.role) {
      this.#listen(run, run.stage.hostCandidates ? this.#localAddress : '0.0.0.0');
      return undefined;
    }
    const targets = run.stage.hostCandidates ? await this.#hostTargets(run.signal) : await this.#remoteTargets(run);
    if (targets.length === 0) return 'the peer advertised no candidate for this method';
    for (const target of targets) this.#dial(run, target, { fromLocalPort: false, redialAfterMs: LISTENER_REDIAL_MS });
    return undefined;
  }

  // 3. Both sides dial from the advertised port on a shared grid of rounds counted from the
  //    synchronised slot start (the last moments spun, so the SYNs leave within a fraction of a
  //    millisecond of each other: with RST-answering NATs the SYNs must cross in flight). Between
  //    rounds the port also listens, so a SYN that finds no connecting socket (host-level race,
  //    full-cone NAT) is accepted rather than reset. A refused target is redialled next round;
  //    sequential/random NATs allocate a new port per dial, so they dial once.
  async #simultaneousOpen(run: StageRun): Promise<string | undefined> {
    await this.#shareFreshMapping(run);
    const targets = await this.#remoteTargets(run);
    if (targets.length === 0) return 'no remote endpoint to dial';
    await this.#dialOnGrid(run, targets);
    return undefined;
  }

  /**
   * A cone pair whose ports both sides knew from the broker opens with one volley as soon as it
   * can when the synchronised start is still far off (the broker's margin grows with RTT jitter):
   * where the NATs drop unsolicited SYNs (or let them through) the later SYN completes a
   * simultaneous open whatever the order, that margin sooner; where a NAT answers RST, the refused
   * dial is redialled on the synchronised grid. A start only a few ms off gains little and leaves
   * the grid alone: with no path delay at all two RST-answering NATs connect only on SYNs that
   * cross within microseconds, and an unsynchronised volley ahead of the grid cost such pairs.
   */
  #startsEarly(stage: TcpStage, index: number): boolean {
    if (index !== 0 || stage.technique !== 'simultaneous-open' || stage.predict) return false;
    if (!this.#localMappingStable() || this.#remoteAnnounces()) return false;
    return this.#options.startAt - performance.now() >= EARLY_VOLLEY_MIN_LEAD_MS;
  }

  async #dialOnGrid(run: StageRun, initialTargets: TcpEndpoint[]): Promise<void> {
    const role = this.#options.role;
    let targets = this.#remoteMoved ? [this.#remoteMoved] : initialTargets;
    this.#followMoves(run, (moved) => {
      targets = [moved];
    });
    const period = gridPeriodMs(role);
    // Rounds already past (a late start, or a fallback later in the slot) are not dialled.
    const rounds = gridRounds(role, run.slotStart, run.stage.durationMs, performance.now());
    const firstRound = rounds.first;
    const lastRound = this.#localMappingStable() ? rounds.end : firstRound + 1;
    const live = new Set<string>();
    let listener: net.Server | undefined;
    // Where the kernel still holds the port after the round's listener closed (a third of the
    // connects failed with EADDRINUSE, no socket on the port to be seen), a host behind a NAT goes
    // on without a listener: with an RST-answering NAT it only cost the crossing rounds (lab
    // RST<->RST pair: 12 of 13 connected without it, 15 of 24 with it). Without a profile saying
    // so (loopback, unknown NAT) the listener stays: there it accepts SYNs that missed the connect.
    const behindNamedNat = !this.#localView.public && this.#localView.mapping !== 'unknown';
    let portBusy = false;
    let listened = false;
    // A stalled dial (see stalledDialMs) is given up, silently (a socket closed in SYN_SENT sends
    // no RST), and the target is dialled again at the next round; after STALLS_BEFORE_MOVE in a
    // row this side moves to a fresh port (lab: one side's dial stalled after 12 refusals and held
    // its grid for the rest of the 3 s slot while every one of the peer's 570 SYNs was refused).
    // Only behind a NAT the profile names: on loopback some SYNs go unanswered past the bound and
    // still connect on their retransmission (giving them up there cost the loopback tests seconds).
    const slowestRefusalMs = new Map<string, number>();
    const stallAfterMs = (target: TcpEndpoint) => (behindNamedNat ? stalledDialMs(slowestRefusalMs.get(endpointKey(target))) : undefined);
    let stalls = 0;
    let moving: Promise<void> | undefined;
    const dial = (target: TcpEndpoint): void => {
      live.add(endpointKey(target));
      // A connected target stays live while its stream is verified: dialling it again from the
      // same port only collides with that stream (EADDRNOTAVAIL) and burns a connect per round.
      // A stream that fails verification (a half-open leftover of a lost race) frees it again.
      const free = (): void => {
        live.delete(endpointKey(target));
      };
      const dialledAt = performance.now();
      void this.#connectOnce(run, target, true, free, stallAfterMs(target)).then((outcome) => {
        if (outcome === 'refused') {
          const key = endpointKey(target);
          slowestRefusalMs.set(key, Math.max(slowestRefusalMs.get(key) ?? 0, performance.now() - dialledAt));
          stalls = 0;
        }
        if (outcome === 'stalled' && ++stalls >= STALLS_BEFORE_MOVE && moving === undefined) {
          moving = this.#moveToFreshPort(run).finally(() => {
            moving = undefined;
            stalls = 0;
          });
        }
        if (outcome === 'port-busy' && listened && behindNamedNat && !portBusy) {
          portBusy = true;
          run.notes.push('EADDRINUSE after closing the round listener: no listener between rounds for the rest of the slot');
        }
        if (outcome !== 'connected') free();
      });
    };
    if (performance.now() < run.slotStart) {
      run.notes.push('early volley before the synchronised start');
      for (const target of targets) dial(target);
    }
    for (let round = firstRound; round < lastRound && !run.signal.aborted && !this.#winner; round++) {
      const roundAt = gridRoundAt(role, run.slotStart, round);
      const due = moving ? [] : targets.filter((target) => !live.has(endpointKey(target)));
      if (due.length === 0 || roundAt < performance.now() - period) {
        await sleep(roundAt + period - performance.now(), run.signal);
        continue;
      }
      await sleepPrecisely(roundAt, run.signal);
      if (run.signal.aborted || this.#winner) break;
      // No SO_REUSEPORT in Node: the listener must give the port up while new connects bind it.
      if (listener) this.#closeServer(run, listener);
      listener = undefined;
      for (const target of due) dial(target);
      await afterPollPhase();
      if (!portBusy) {
        listener = this.#listen(run, this.#localAddress);
        listened = true;
      }
    }
  }


  /**
   * Takes a fresh local port, learns its mapping and tells the peer, which dials that mapping from
   * then on (see STALLS_BEFORE_MOVE). Needs a STUN server and signaling; bounded per punch.
   */
  async #moveToFreshPort(run: StageRun): Promise<void> {
    const stunServer = this.#options.stunServer;
    if (!stunServer || !this.#inbox || this.#moves >= MAX_PORT_MOVES) return;
    this.#moves++;
    try {
      const ready = await armTcpPort({ stunServer, localAddress: this.#localAddress, timeoutMs: PROBE_TIMEOUT_MS, signal: run.signal });
      if (run.signal.aborted || this.#winner) return;
      this.#localPort = ready.port;
      this.#probeRttMs = ready.rttMs;
      this.#inbox.send(ANY_STAGE, 'moved', { address: ready.mapped.address, port: ready.mapped.port });
      run.notes.push(`dials kept stalling: moved to port ${ready.port} (mapped ${endpointKey(ready.mapped)})`);
    } catch (error) {
      const level = run.signal.aborted ? 'debug' : 'warn';
      this.#logger[level]({ err: error }, 'taking a fresh TCP port failed; the grid goes on from the old one');
    }
  }

  /** Calls `onMove` with the peer's new endpoint each time it moves to a fresh port during `run`. */
  #followMoves(run: StageRun, onMove: (moved: TcpEndpoint) => void): void {
    const inbox = this.#inbox;
    if (!inbox) return;
    void (async () => {
      for (;;) {
        const message = await inbox.waitFor(ANY_STAGE, ['moved'], run.signal);
        if (message === undefined) return;
        if (message.address === undefined || message.port === undefined) continue;
        this.#remoteMoved = { address: message.address, port: message.port };
        run.notes.push(`peer moved to ${endpointKey(this.#remoteMoved)}`);
        onMove(this.#remoteMoved);
      }
    })();
  }

  // 4./5. STUNT #2 (XAsymServer/XAsymClient): the opener's SYN opens its NAT and is expected to
  //    fail; it then listens on the same port and tells the dialer, which connects into the hole.
  //    A refused SYN means the far NAT answers RST (and our entry closed): the roles swap once.
  async #asymmetric(run: StageRun): Promise<string | undefined> {
    const inbox = this.#inbox;
    if (!inbox) return 'STUNT #2 needs a signaling channel';
    await this.#shareFreshMapping(run);
    const targets = await this.#remoteTargets(run);
    if (targets.length === 0) return 'no remote endpoint to dial';
    const volley = this.#volley(run, targets);
    let opener = run.stage.lead === this.#options.role;
    for (let swaps = 0; swaps < 2 && !run.signal.aborted; swaps++) {
      if (opener) {
        const opened = await this.#open(run, volley);
        if (opened.sent > 0 && !opened.refused) {
          if (volley.fromLocalPort) this.#listen(run, this.#localAddress);
          inbox.send(run.index, 'opened');
          run.notes.push(`opened ${opened.sent} hole(s)`);
          return undefined;
        }
        // No SYN left (the port was still held): there is no hole, so the peer opens instead.
        inbox.send(run.index, 'refused');
        run.notes.push(opened.sent === 0
          ? 'no opening SYN left (local port busy, EADDRINUSE): swapped roles'
          : 'own opening SYNs were refused (far NAT answers RST): swapped roles');
        opener = false;
        continue;
      }
      const message = await inbox.waitFor(run.index, ['opened', 'refused'], run.signal);
      if (message === undefined) return 'the peer never reported its hole open';
      if (message.type === 'refused') {
        run.notes.push("peer's opening SYN was refused: swapped roles");
        opener = true;
        continue;
      }
      const redial = volley.fromLocalPort && this.#localMappingStable() && !run.stage.birthday ? 0 : undefined;
      for (const target of volley.endpoints) void this.#dial(run, target, { fromLocalPort: volley.fromLocalPort, redialAfterMs: redial });
      return undefined;
    }
    if (run.stage.birthday) return 'both NATs answer unsolicited SYNs with RST: no birthday holes survive';
    // Both NATs answer RST: only SYNs that cross in flight get through; spend the rest of the
    // slot on the simultaneous-open grid (both sides reach this point together). In the plan's
    // last stage nothing else is left to try, so the grid goes on until the punch's deadline
    // (lab, no path delay, 6 busy loops on 2 cores: crossings took up to 7 s).
    run.method = 'tcp-simultaneous-open';
    const last = run.index === this.#plan.stages.length - 1;
    if (last) this.#extendToDeadline(run);
    run.notes.push(`both NATs answer unsolicited SYNs with RST: simultaneous-open grid for the rest of the ${last ? 'punch' : 'slot'}`);
    await this.#dialOnGrid(run, targets);
    return undefined;
  }

  /** Lets `run` go on past its slot until the whole punch ends (its deadline, a win, an abort). */
  #extendToDeadline(run: StageRun): void {
    run.signal = this.#overall!;
    run.endAt = Math.max(run.endAt, this.#deadlineAt);
    run.stage = { ...run.stage, durationMs: run.endAt - run.slotStart };
  }

  /**
   * What this side sends in an asymmetric stage, opening or dialling: its peer's endpoints from
   * its advertised port, or for the birthday technique, many fresh ports towards the cone's one
   * endpoint (random side) / random ports of the random side's address (cone side).
   */
  #volley(run: StageRun, targets: TcpEndpoint[]): { fromLocalPort: boolean; endpoints: TcpEndpoint[] } {
    if (!run.stage.birthday) return { fromLocalPort: true, endpoints: targets };
    const target = targets[0]!;
    if (this.#localView.mapping === 'random') {
      return { fromLocalPort: false, endpoints: Array.from({ length: BIRTHDAY_HOLES }, () => target) };
    }
    const odds = birthdaySuccessProbability(BIRTHDAY_HOLES, BIRTHDAY_PROBES, FULL_PORT_RANGE.max - FULL_PORT_RANGE.min + 1);
    run.notes.push(`birthday: ${BIRTHDAY_HOLES} holes x ${BIRTHDAY_PROBES} probes, p=${odds.toFixed(2)} over the full port range`);
    return { fromLocalPort: true, endpoints: samplePorts(BIRTHDAY_PROBES).map((port) => ({ address: target.address, port })) };
  }

  /**
   * Dials every endpoint once. `sent`: the dials whose SYN left (not EADDRINUSE on the local port);
   * `refused`: (nearly) all of those were refused within the settle time.
   */
  async #open(run: StageRun, volley: { fromLocalPort: boolean; endpoints: TcpEndpoint[] }): Promise<{ sent: number; refused: boolean }> {
    const settleMs = this.#probeRttMs === undefined
      ? OPENER_SETTLE_DEFAULT_MS
      : Math.min(OPENER_SETTLE_MAX_MS, Math.max(OPENER_SETTLE_MIN_MS, OPENER_SETTLE_RTTS * this.#probeRttMs));
    const outcomes = volley.endpoints.map((target) => this.#connectOnce(run, target, volley.fromLocalPort));
    let refused = 0;
    let busy = 0;
    const verdict = () => ({ sent: outcomes.length - busy, refused: busy < outcomes.length && refused >= Math.ceil((outcomes.length - busy) * REFUSED_SHARE) });
    const refusedEnough = new Promise<{ sent: number; refused: boolean }>((resolve) => {
      for (const outcome of outcomes) {
        void outcome.then((result) => {
          if (result === 'port-busy') busy++;
          if (result === 'refused') refused++;
          if (verdict().refused) resolve(verdict());
        });
      }
    });
    // The verdict waits for the loop's poll phase, where refusals the kernel already has are seen
    // (io-timeout). Taken as "not refused", the opener listened behind a NAT entry the far RST had
    // closed, and every SYN of the dialer was refused for the rest of the stage.
    const settled = sleep(settleMs, run.signal).then(afterPollPhase).then(verdict);
    return Promise.race([refusedEnough, settled]);
  }

  #localMappingStable(): boolean {
    return this.#localView.mapping === 'cone' || this.#localView.mapping === 'unknown' || this.#localView.public;
  }

  /** A sequential NAT side probes a fresh mapping from its port so the peer can predict the next one. */
  async #shareFreshMapping(run: StageRun): Promise<void> {
    if (!run.stage.predict || this.#localView.mapping !== 'delta' || !this.#inbox) return;
    // A second probe from this port to the same STUN endpoint fails with EADDRNOTAVAIL while the
    // first probe's connection still holds that 4-tuple, costing the whole stage. The mapping
    // learned when the port was prepared is still the newest when nothing was dialled since.
    const last = this.#lastMapping;
    const mapping = last !== undefined && last.dials === this.#dials ? last.mapping : await this.#probe(run.signal);
    if (mapping) {
      this.#inbox.send(run.index, 'mapping', mapping);
      run.notes.push(`fresh mapping ${endpointKey(mapping)}`);
    } else {
      run.notes.push('no fresh mapping (no STUN server or probe failed)');
    }
  }

  /**
   * A peer whose port was not advertised through the broker announces the fresh port it punches
   * from and its mapping; that announcement replaces the candidates.
   */
  #announcement(signal: AbortSignal): Promise<TcpSignal | undefined> {
    if (!this.#inbox) return Promise.resolve(undefined);
    // Shared by every stage that asks, so it waits on the whole punch, not on one stage.
    this.#announced ??= this.#inbox.waitFor(ANY_STAGE, ['mapping'], AbortSignal.any([this.#done.signal, timeoutSignal(PROBE_TIMEOUT_MS)])).then((announced) => {
      if (announced) this.#timeline.mark('mapping-received');
      return announced;
    });
    return Promise.race([this.#announced, new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }))]);
  }

  /** The peer's candidates do not carry the port it punches from: wait for its announcement. */
  #remoteAnnounces(): boolean {
    return this.#options.remote.announcesPort ?? this.#options.local.port === undefined;
  }

  async #hostTargets(signal: AbortSignal): Promise<TcpEndpoint[]> {
    const announced = this.#remoteAnnounces() ? await this.#announcement(signal) : undefined;
    const hosts = normalizeCandidates(this.#options.remote.candidates)
      .filter((candidate) => candidate.kind === 'host')
      .map(({ address, port }) => ({ address, port: announced?.hostPort ?? port }));
    if (hosts.length > 0 || announced?.hostAddress === undefined || announced.hostPort === undefined) return hosts;
    return [{ address: announced.hostAddress, port: announced.hostPort }];
  }

  /** The peer's public endpoints for this stage: its srflx, or ports predicted from its fresh mapping. */
  async #remoteTargets(run: StageRun): Promise<TcpEndpoint[]> {
    const candidates = normalizeCandidates(this.#options.remote.candidates);
    let publicOnes = candidates.filter((candidate) => candidate.kind === 'srflx').map(({ address, port }) => ({ address, port }));
    // normalizeCandidates keeps the host candidate when it equals the srflx one (no NAT).
    if (publicOnes.length === 0 && this.#remoteView.public) publicOnes = await this.#hostTargets(run.signal);
    if (this.#remoteAnnounces() || publicOnes.length === 0) {
      const announced = await this.#announcement(run.signal);
      if (announced?.address !== undefined && announced.port !== undefined) publicOnes = [{ address: announced.address, port: announced.port }];
    }
    if (this.#remoteView.public) return publicOnes;
    if (!run.stage.predict || this.#remoteView.mapping !== 'delta') return publicOnes;
    const fresh = this.#inbox ? await this.#inbox.waitFor(run.index, ['mapping'], run.signal) : undefined;
    const predicted = this.#predicted(fresh);
    if (predicted.length > 0) {
      run.notes.push(`predicted ${predicted.map((target) => target.port).join(',')}`);
      return predicted;
    }
    const advertised = candidates.filter((candidate) => candidate.kind === 'predicted').map(({ address, port }) => ({ address, port }));
    return advertised.length > 0 ? advertised : publicOnes;
  }

  #predicted(fresh: TcpSignal | undefined): TcpEndpoint[] {
    const delta = fresh?.delta ?? this.#remoteView.delta;
    if (fresh?.address === undefined || fresh.port === undefined || delta === undefined) return [];
    const address = fresh.address;
    return predictPorts({ lastPort: fresh.port, delta, window: PREDICTION_WINDOW }).map((port) => ({ address, port }));
  }

  #shortWait(run: StageRun): AbortSignal {
    return AbortSignal.any([run.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
  }

  /**
   * One connect; resolves with how it ended (a connected stream goes to verification).
   * `port-busy`: binding the local port failed (EADDRINUSE), so no SYN left. `stalled`: no answer
   * within `stallMs` (when given), so the socket was closed without a RST.
   */
  #connectOnce(run: StageRun, target: TcpEndpoint, fromLocalPort: boolean, onUnverified?: () => void, stallMs?: number): Promise<ConnectOutcome> {
    return new Promise((resolve) => {
      run.dials++;
      this.#dials++;
      this.#timeline.mark('first-syn');
      const socket = net.connect({
        host: target.address,
        port: target.port,
        ...(fromLocalPort ? { localPort: this.#localPort, localAddress: this.#localAddress } : {}),
      });
      run.sockets.add(socket);
      // Checked after the loop's poll phase, where a connect or a refusal the kernel already
      // completed is seen (io-timeout).
      const cancelStallCheck = stallMs === undefined ? undefined : setIoTimeout(() => {
        if (!socket.connecting) return;
        run.sockets.delete(socket);
        socket.destroy();
        if (run.notes.length < MAX_NOTES) run.notes.push(`dial ${endpointKey(target)}: no answer within ${Math.round(stallMs)} ms, given up for the next round`);
        resolve('stalled');
      }, stallMs);
      if (cancelStallCheck) socket.once('close', cancelStallCheck);
      socket.once('connect', () => {
        run.sockets.delete(socket);
        this.#offer(socket, run, onUnverified);
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        run.sockets.delete(socket);
        socket.destroy();
        if (error.code === 'ECONNREFUSED') {
          run.refused++;
          resolve('refused');
          return;
        }
        if (run.notes.length < MAX_NOTES) run.notes.push(`dial ${endpointKey(target)}: ${error.code ?? error.message}`);
        resolve(error.code === 'EADDRINUSE' ? 'port-busy' : 'failed');
      });
      // Destroyed at the end of the stage while still connecting: nothing more to report.
      socket.once('close', () => resolve('failed'));
    });
  }

  /** Connects, redialling after a refusal when `redialAfterMs` is set (bounded per target). */
  async #dial(run: StageRun, target: TcpEndpoint, policy: { fromLocalPort: boolean; redialAfterMs?: number }): Promise<ConnectOutcome> {
    for (let redials = 0; ; redials++) {
      const outcome = await this.#connectOnce(run, target, policy.fromLocalPort);
      if (outcome !== 'refused' || policy.redialAfterMs === undefined || redials >= MAX_REDIALS_PER_TARGET) return outcome;
      await sleep(policy.redialAfterMs + Math.random() * REDIAL_JITTER_MS, run.signal);
      if (run.signal.aborted || this.#winner) return outcome;
    }
  }

  #closeServer(run: StageRun, server: net.Server): void {
    closeListener(server);
    run.servers.delete(server);
  }

  #listen(run: StageRun, host: string): net.Server {
    const server = net.createServer((socket) => this.#offer(socket, run));
    server.maxConnections = MAX_LISTENER_CONNECTIONS;
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (run.notes.length < MAX_NOTES) run.notes.push(`listen on ${host}:${this.#localPort}: ${error.code ?? error.message}`);
    });
    server.listen({ port: this.#localPort, host });
    run.servers.add(server);
    // A technique still running after its stage ended (another path won) must not leave a
    // listener behind: it would accept strays and hold the process open.
    if (run.signal.aborted) this.#closeServer(run, server);
    return server;
  }

  #helloTimeoutMs(): number {
    if (this.#probeRttMs === undefined) return HELLO_TIMEOUT_DEFAULT_MS;
    return Math.min(DEFAULT_HANDSHAKE_TIMEOUT_MS, Math.max(HELLO_TIMEOUT_MIN_MS, HELLO_TIMEOUT_RTTS * this.#probeRttMs));
  }

  /** Verifies a connected stream; the first verified one wins, everything else is closed. */
  /** `onUnverified`: called when the stream failed verification (not when another one won). */
  #offer(socket: net.Socket, run: StageRun, onUnverified?: () => void): void {
    if (this.#winner || this.#done.signal.aborted) {
      socket.destroy();
      return;
    }
    this.#timeline.mark('tcp-connected');
    // The handshake's small writes each wait for an ACK under Nagle, and the peer delays its ACKs
    // (40 ms on Linux): without this, verification took one to two delayed-ACK timers more.
    socket.setNoDelay(true);
    const verifying = verifyStream(socket, {
      role: this.#options.role,
      connectionId: this.#options.connectionId,
      secret: this.#options.secret,
      helloTimeoutMs: this.#helloTimeoutMs(),
      signal: this.#done.signal,
    }).then(
      () => {
        // Aborted by the caller (the relay was taken): never SELECT, or the responder could keep
        // this stream while the initiator keeps another path.
        if (this.#winner || this.#options.signal?.aborted) {
          socket.resetAndDestroy();
          return;
        }
        if (this.#options.role === 'initiator') selectStream(socket);
        this.#winner = { socket, method: run.method, stage: run.index };
        this.#timeline.mark('verified');
        this.#done.abort();
        this.#onWin?.();
      },
      (error: unknown) => {
        // A reset frees the 4-tuple at once; a FIN would hold it (FIN_WAIT, TIME_WAIT) and every
        // later dial of the same target from this port would fail with EADDRNOTAVAIL.
        socket.resetAndDestroy();
        this.#logger.debug({ err: error, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'closed an unverified TCP stream');
        onUnverified?.();
      },
    );
    this.#verifying.add(verifying);
    void verifying.finally(() => this.#verifying.delete(verifying));
  }
}

const MIN_SECRET_BYTES = 16;

/**
 * Stops a stage's listener, also one still starting: `listen({ host })` resolves the host
 * asynchronously, and a close() before it is bound is a no-op that would leave it listening
 * (accepting strays and holding the process open) once the bind completes.
 */
function closeListener(server: net.Server): void {
  if (server.listening) server.close();
  else server.once('listening', () => server.close());
}

/**
 * Punches a TCP connection to the peer the caller is coordinating with (through the broker).
 * Resolves with a verified, connected socket (TCP_NODELAY and keepalive on); rejects with
 * TcpPunchFailedError (`attempts` lists each strategy and why it failed) or AbortedError.
 */
export function punchTcp(options: PunchTcpOptions): Promise<PunchTcpResult> {
  if (options.role !== 'initiator' && options.role !== 'responder') {
    return Promise.reject(new InvalidArgumentError(`role must be "initiator" or "responder", got "${String(options.role)}"`));
  }
  if (typeof options.connectionId !== 'string' || options.connectionId.length === 0) {
    return Promise.reject(new InvalidArgumentError('connectionId must be a non-empty string'));
  }
  if (!Buffer.isBuffer(options.secret) || options.secret.length < MIN_SECRET_BYTES) {
    return Promise.reject(new InvalidArgumentError(`secret must be a Buffer of at least ${MIN_SECRET_BYTES} bytes`));
  }
  if (!Number.isFinite(options.startAt)) return Promise.reject(new InvalidArgumentError('startAt must be a time in ms'));
  if (options.signal?.aborted) return Promise.reject(new AbortedError('TCP punch aborted', { cause: options.signal.reason }));
  return new TcpPunch(options).run();
}
