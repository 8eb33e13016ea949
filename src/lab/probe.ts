import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { TimeoutError } from '../errors.js';
import { LabCommandError } from './errors.js';
import type { Lab } from './lab.js';
import type { AgentCommand } from './probe-agent.js';

export type { Endpoint, ConnectOutcome } from './probe-agent.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
export type ProbeRequest = WithoutId<AgentCommand>;

/**
 * The agent's command line. From dist it is plain JavaScript; from the TypeScript sources it is
 * transpiled once into build/lab/ (a node process under tsx takes seconds to start on a busy
 * 2-core machine, plain node a fraction of that, and a verify run starts one per host).
 */
export function agentArgv(): Promise<string[]> {
  agentArgvOnce ??= resolveAgentArgv();
  return agentArgvOnce;
}

let agentArgvOnce: Promise<string[]> | undefined;

async function resolveAgentArgv(): Promise<string[]> {
  const self = fileURLToPath(import.meta.url);
  if (extname(self) !== '.ts') return [process.execPath, fileURLToPath(new URL('./probe-agent.js', import.meta.url))];
  const source = fileURLToPath(new URL('./probe-agent.ts', import.meta.url));
  const target = fileURLToPath(new URL('../../build/lab/probe-agent.mjs', import.meta.url));
  const [sourceStat, targetStat] = await Promise.all([stat(source), stat(target).catch(() => null)]);
  if (!targetStat || targetStat.mtimeMs < sourceStat.mtimeMs) {
    const { default: ts } = await import('typescript');
    const output = ts.transpileModule(await readFile(source, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, output);
    await rename(temporary, target);
  }
  return [process.execPath, target];
}

const START_TIMEOUT_MS = 20_000;
/** Slack on top of the time a command says it needs. */
const COMMAND_SLACK_MS = 10_000;

/** Drives a probe agent inside one lab host. */
export class ProbeAgent {
  readonly host: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #events: Array<(event: Record<string, unknown>) => void> = [];
  #nextId = 1;
  #stderr = '';

  private constructor(host: string, child: ChildProcess) {
    this.host = host;
    this.#child = child;
  }

  static async start(lab: Lab, host: string): Promise<ProbeAgent> {
    const child = lab.spawn(host, await agentArgv(), { stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new ProbeAgent(host, child);
    child.stderr!.on('data', (chunk: Buffer) => {
      agent.#stderr = (agent.#stderr + chunk.toString()).slice(-4000);
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`probe agent on ${host} did not start`, START_TIMEOUT_MS)), START_TIMEOUT_MS);
      agent.#events.push((event) => {
        if (event.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new LabCommandError(`probe agent on ${host}`, code, agent.#stderr));
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => agent.#onLine(line));
    child.once('exit', (code) => {
      for (const { reject } of agent.#pending.values()) reject(new LabCommandError(`probe agent on ${host}`, code, agent.#stderr));
      agent.#pending.clear();
    });
    await ready;
    return agent;
  }

  /** Sends a command and resolves with its result. */
  request<T = Record<string, unknown>>(command: ProbeRequest, onEvent?: (event: Record<string, unknown>) => void): Promise<T> {
    const id = this.#nextId++;
    const budget = ('timeoutMs' in command ? command.timeoutMs * 8 : 0) + ('waitMs' in command ? command.waitMs * 8 : 0) + COMMAND_SLACK_MS;
    if (onEvent) this.#events.push(onEvent);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`probe ${command.op} on ${this.host} got no answer`, budget));
      }, budget);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#child.stdin!.write(JSON.stringify({ ...command, id }) + '\n');
    }).finally(() => {
      if (onEvent) this.#events.splice(this.#events.indexOf(onEvent), 1);
    });
  }

  /** Ends the agent (closing stdin makes it close its sockets and exit). */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin!.end();
    await exited;
  }

  #onLine(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.#stderr += `\nunparsable line: ${line.slice(0, 200)}`;
      return;
    }
    const pending = typeof message.id === 'number' ? this.#pending.get(message.id) : undefined;
    if (!pending) {
      for (const listener of [...this.#events]) listener(message);
      return;
    }
    this.#pending.delete(message.id as number);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new LabCommandError(`probe on ${this.host}`, null, String(message.error)));
  }
}
