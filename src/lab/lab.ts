import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { buildScript, shapedLinkScript, teardownBatch } from './build-script.js';
import { killQuietly, registerTeardown, teardownSync, unregisterTeardown, type Teardown } from './cleanup.js';
import { LabCommandError, LabUnknownHostError } from './errors.js';
import { startForwarder, type Forwarder } from './forwarder.js';
import type { NatBehaviour } from './nat.js';
import { checkPrerequisites, run, runScript, stopProcess, type RunResult } from './shell.js';
import { isShaped, planLab, type LabPlan, type LabTopologyOptions, type PlannedHost } from './topology.js';

export interface LabOptions extends LabTopologyOptions {
  /** Namespace prefix, 2-12 lower-case letters/digits starting with a letter. @default 'ntl' + 5 random characters */
  prefix?: string;
  /** Seed for the hash-based port choices of EIM(hash)/ADM routers. @default random */
  seed?: number;
  /** Limit for building the lab. @default 30000 */
  timeoutMs?: number;
  /** Aborts the build (what was built so far is removed). */
  signal?: AbortSignal;
  /**
   * Outlive this process (`ntcp lab up`): no teardown on exit or signals, and the delayed-link
   * forwarder keeps running; `ntcp lab down` (or `Lab.attach(state).destroy()`) removes it. @default false
   */
  persistent?: boolean;
}

export interface LabComponents {
  logger?: Logger;
}

export interface ExecOptions {
  /** Written to the process's stdin. */
  input?: string;
  /** @default 30000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** What `ntcp lab up` persists so later `exec` / `down` / `verify` find the lab. */
export interface LabState {
  plan: LabPlan;
  pids: number[];
}

/** Every lab's namespaces start with this (plus 5 random characters), so leftovers can be found. */
export const LAB_PREFIX_FAMILY = 'ntl';
const PREFIX_PATTERN = /^[a-z][a-z0-9]{1,11}$/;
const DEFAULT_BUILD_TIMEOUT_MS = 30_000;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Time a spawned process gets between SIGTERM and SIGKILL on destroy. */
const KILL_GRACE_MS = 500;

/**
 * Deletes every namespace named `<prefix>-...` (leftovers of crashed runs; with the family
 * prefix, every lab on the machine). Their forwarders exit once their namespaces are gone.
 */
export async function removeLabsByPrefix(prefix: string = LAB_PREFIX_FAMILY): Promise<string[]> {
  checkPrerequisites();
  const listed = await run(['ip', 'netns', 'list']);
  if (listed.code !== 0) throw new LabCommandError('ip netns list', listed.code, listed.stderr);
  const names = listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix) && name.includes('-'));
  if (names.length > 0) await run(['ip', '-force', '-batch', '-'], { input: teardownBatch(names) });
  return names;
}

/** Whether a saved PID still is one of this lab's processes (a PID may have been reused since). */
async function namesLab(pid: number, prefix: string): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(`${prefix}-`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function randomPrefix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return LAB_PREFIX_FAMILY + Array.from(randomBytes(5), (byte) => alphabet[byte % alphabet.length]).join('');
}

/**
 * A NAT lab: an "internet" bridge, a server with two public addresses, and sites with kernel NAT
 * routers and hosts, each in its own network namespace. Host names: 'server', 'inet' (the
 * internet bridge's namespace), a site's router is named like the site ('a'), its hosts
 * `<site><n>` ('a1', 'a2'); see src/lab/README.md.
 */
export class Lab {
  readonly plan: LabPlan;
  /** Milliseconds `Lab.create` took to build the namespaces, links and rules. */
  readonly buildMs: number;
  readonly #logger: Logger;
  readonly #hosts: Map<string, PlannedHost>;
  readonly #children = new Set<ChildProcess>();
  readonly #forwarder: Forwarder | undefined;
  readonly #foreignPids: number[];
  readonly #teardown: Teardown;
  #destroyed = false;

  private constructor(plan: LabPlan, buildMs: number, logger: Logger, forwarder: Forwarder | undefined, foreignPids: number[]) {
    this.plan = plan;
    this.buildMs = buildMs;
    this.#logger = logger;
    this.#forwarder = forwarder;
    this.#foreignPids = foreignPids;
    this.#hosts = new Map(plan.hosts.map((host) => [host.name, host]));
    this.#teardown = { namespaces: plan.hosts.map((host) => host.namespace), pids: () => this.#pids() };
  }

  /** Builds a lab. Needs root, iproute2 and nftables (typed errors say what is missing). */
  static async create(options: LabOptions = {}, components: LabComponents = {}): Promise<Lab> {
    checkPrerequisites();
    const prefix = options.prefix ?? randomPrefix();
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new InvalidArgumentError(`lab prefix must match ${PREFIX_PATTERN} (namespace names are <prefix>-<host>), got "${prefix}"`);
    }
    const logger = (components.logger ?? silentLogger).child({ component: 'lab', prefix });
    const plan = planLab(prefix, options);
    const timeoutMs = options.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
    let forwarder: Forwarder | undefined;
    const namespaces = plan.hosts.map((host) => host.namespace);
    const pending: Teardown = { namespaces, pids: () => (forwarder ? [forwarder.pid] : []) };
    registerTeardown(pending);
    const started = performance.now();
    try {
      await runScript(`build lab ${prefix}`, buildScript(plan, { seed: options.seed ?? randomInt(2 ** 31) }), timeoutMs, options.signal);
      const shaped = plan.links.filter((link) => isShaped(link.shape));
      if (shaped.length > 0) {
        forwarder = await startForwarder(shaped, { timeoutMs, logger, detached: options.persistent ?? false });
        await runScript(`configure shaped links of lab ${prefix}`, shapedLinkScript(plan), timeoutMs, options.signal);
      }
    } catch (error) {
      teardownSync(pending);
      unregisterTeardown(pending);
      throw error;
    }
    const buildMs = performance.now() - started;
    unregisterTeardown(pending);
    const lab = new Lab(plan, buildMs, logger, forwarder, []);
    if (!options.persistent) registerTeardown(lab.#teardown);
    logger.debug({ buildMs: Math.round(buildMs), hosts: lab.hosts }, 'lab up');
    return lab;
  }

  /** Re-attaches to a lab built by another process (`ntcp lab up`), from its saved state. */
  static attach(state: LabState, components: LabComponents = {}): Lab {
    checkPrerequisites();
    const logger = (components.logger ?? silentLogger).child({ component: 'lab', prefix: state.plan.prefix });
    return new Lab(state.plan, 0, logger, undefined, [...state.pids]);
  }

  /** What another process needs to `attach` (and to tear the lab down). */
  state(): LabState {
    return { plan: this.plan, pids: this.#pids() };
  }

  get prefix(): string {
    return this.plan.prefix;
  }

  /** All host names, in plan order ('inet', 'server', routers, hosts). */
  get hosts(): string[] {
    return [...this.#hosts.keys()];
  }

  /** The server's two public addresses (RFC 5780 needs two). */
  get serverAddresses(): [string, string] {
    const [first, second] = this.#host('server').addresses;
    return [first!, second!];
  }

  /** A host's main address: a router's upstream (WAN) address, a host's LAN or public address. */
  address(host: string): string {
    const address = this.#host(host).addresses[0];
    if (!address) throw new InvalidArgumentError(`host "${host}" has no address`);
    return address;
  }

  /** Every address of a host (server: both public ones; router: WAN, then LAN). */
  addresses(host: string): string[] {
    return [...this.#host(host).addresses];
  }

  /** The network namespace a host lives in (for `ip netns exec`). */
  namespace(host: string): string {
    return this.#host(host).namespace;
  }

  /** The address the internet sees for a site: its outermost router's WAN address. */
  publicAddress(site: string): string {
    const planned = this.plan.sites.find((s) => s.name === site);
    if (!planned) throw new InvalidArgumentError(`no site "${site}" (sites: ${this.plan.sites.map((s) => s.name).join(', ')})`);
    if (planned.upstream !== 'internet') return this.publicAddress(planned.upstream);
    if (planned.wanAddress) return planned.wanAddress;
    const firstHost = planned.hosts[0];
    if (!firstHost) throw new InvalidArgumentError(`site "${site}" has neither a NAT nor hosts`);
    return this.address(firstHost);
  }

  /** A site's NAT behaviour (null: no NAT). */
  nat(site: string): NatBehaviour | null {
    const planned = this.plan.sites.find((s) => s.name === site);
    if (!planned) throw new InvalidArgumentError(`no site "${site}"`);
    return planned.nat;
  }

  /** Runs a program inside a host and collects its output; a non-zero exit is not an error. */
  exec(host: string, argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const namespace = this.namespace(host);
    return run(['ip', 'netns', 'exec', namespace, ...argv], {
      timeoutMs: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
  }

  /** Starts a program inside a host; it is killed by `destroy()` if still running. */
  spawn(host: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const namespace = this.namespace(host);
    if (argv.length === 0) throw new InvalidArgumentError('spawn needs a command');
    const child = spawn('ip', ['netns', 'exec', namespace, ...argv], options);
    this.#children.add(child);
    child.on('exit', () => this.#children.delete(child));
    child.on('error', (error) => this.#logger.warn({ host, error: error.message }, 'lab process failed to start'));
    return child;
  }

  /** Kills the lab's processes and deletes its namespaces. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await this.#stopChildren();
    for (const pid of this.#foreignPids) if (await namesLab(pid, this.prefix)) killQuietly(pid, 'SIGTERM');
    await this.#forwarder?.stop();
    const result = await run(['ip', '-force', '-batch', '-'], { input: teardownBatch(this.#teardown.namespaces) });
    unregisterTeardown(this.#teardown);
    if (result.code !== 0) this.#logger.warn({ stderr: result.stderr.trim() }, 'some lab namespaces were already gone');
  }

  #host(name: string): PlannedHost {
    const host = this.#hosts.get(name);
    if (!host) throw new LabUnknownHostError(name, this.hosts);
    return host;
  }

  #pids(): number[] {
    const pids = [...this.#children].flatMap((child) => (child.pid !== undefined && child.exitCode === null ? [child.pid] : []));
    if (this.#forwarder) pids.push(this.#forwarder.pid);
    return [...pids, ...this.#foreignPids];
  }

  async #stopChildren(): Promise<void> {
    await Promise.all([...this.#children].map((child) => stopProcess(child, KILL_GRACE_MS)));
  }
}
