import type { Command } from 'commander';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import {
  Lab,
  LAB_PREFIX_FAMILY,
  VERIFY_SITES,
  describeNat,
  findLabState,
  formatVerifyTable,
  removeLabsByPrefix,
  verifyLab,
  type LabState,
  type NatPreset,
  type SiteOptions,
} from '../../lab/index.js';
import { EXIT_FAILURE } from '../output.js';
import { boundedNumber } from '../option-parsers.js';

/** Where `ntcp lab up` keeps the running lab's description. @default .ntcp/lab.json (or $NTCP_LAB_STATE) */
const DEFAULT_STATE = process.env.NTCP_LAB_STATE ?? '.ntcp/lab.json';

/** `--site name=preset[,hosts=N][,behind=site][,udp=block]`, repeatable. */
function parseSite(text: string, previous: SiteOptions[] = []): SiteOptions[] {
  const [head, ...rest] = text.split(',');
  const [name, nat] = (head ?? '').split('=');
  if (!name || !nat) throw new InvalidArgumentError(`--site wants name=preset[,hosts=N][,behind=site][,udp=block], got "${text}"`);
  const site: SiteOptions = { name, nat: nat as NatPreset };
  for (const part of rest) {
    const [key, value] = part.split('=');
    if (key === 'hosts') site.hosts = Number(value);
    else if (key === 'behind' && value) site.behind = value;
    else if (key === 'udp' && value === 'block') site.firewall = { udp: 'block' };
    else throw new InvalidArgumentError(`unknown --site field "${part}" (hosts=N, behind=site, udp=block)`);
  }
  return [...previous, site];
}

async function readState(path: string): Promise<LabState> {
  const state = await findLabState(path);
  if (!state) throw new InvalidArgumentError(`no lab is up (no ${path}); start one with \`ntcp lab up\``);
  return state;
}

interface UpFlags {
  a?: string;
  b?: string;
  c?: string;
  site?: SiteOptions[];
  hosts: number;
  delay?: number;
  jitter?: number;
  loss?: number;
  state: string;
  json?: boolean;
}

async function up(flags: UpFlags): Promise<void> {
  const sites: SiteOptions[] = (['a', 'b', 'c'] as const)
    .filter((name) => flags[name] !== undefined)
    .map((name) => ({ name, nat: flags[name] as NatPreset, hosts: flags.hosts }));
  sites.push(...(flags.site ?? []));
  const path = resolve(flags.state);
  if (await findLabState(path)) throw new InvalidArgumentError(`a lab is already up (${path}); \`ntcp lab down\` first`);
  const lab = await Lab.create({
    ...(sites.length > 0 ? { sites } : {}),
    ...(flags.delay !== undefined ? { delayMs: flags.delay } : {}),
    ...(flags.jitter !== undefined ? { jitterMs: flags.jitter } : {}),
    ...(flags.loss !== undefined ? { lossPercent: flags.loss } : {}),
    persistent: true,
  });
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(lab.state(), null, 2) + '\n');
  if (flags.json) {
    process.stdout.write(JSON.stringify({ event: 'lab-up', prefix: lab.prefix, buildMs: Math.round(lab.buildMs), state: path, hosts: lab.plan.hosts }) + '\n');
    return;
  }
  process.stdout.write(`lab ${lab.prefix} up in ${lab.buildMs.toFixed(0)} ms (state: ${path})\n`);
  for (const host of lab.plan.hosts) {
    const site = host.site ? lab.plan.sites.find((s) => s.name === host.site) : undefined;
    const firewall = site?.firewall?.udp === 'block' ? ', UDP blocked' : '';
    const what = host.kind === 'router' ? `NAT ${describeNat(site?.nat ?? null)}${firewall}${site?.upstream !== 'internet' ? ` behind ${site?.upstream}` : ''}` : host.kind;
    process.stdout.write(`  ${host.name.padEnd(8)} ${host.addresses.join(', ').padEnd(28)} ${what}  (ip netns exec ${host.namespace})\n`);
  }
  const shaped = lab.plan.sites.filter((s) => s.shape.delayMs || s.shape.lossPercent || s.shape.jitterMs);
  for (const site of shaped) {
    process.stdout.write(`  link ${site.name}: +${site.shape.delayMs} ms RTT, jitter ${site.shape.jitterMs} ms, loss ${site.shape.lossPercent}% each way\n`);
  }
}

async function exec(host: string, argv: string[], flags: { state: string }): Promise<void> {
  if (argv.length === 0) throw new InvalidArgumentError('usage: ntcp lab exec HOST -- COMMAND [ARGS...]');
  const lab = Lab.attach(await readState(resolve(flags.state)));
  const child = lab.spawn(host, argv, { stdio: 'inherit' });
  const code = await new Promise<number>((done) => child.once('exit', (exitCode, signal) => done(exitCode ?? (signal ? 128 : EXIT_FAILURE))));
  process.exitCode = code;
}

async function down(flags: { state: string; all?: boolean; prefix?: string }): Promise<void> {
  const path = resolve(flags.state);
  const sweeping = flags.all === true || flags.prefix !== undefined;
  // A broken state file must not stop the sweep that cleans up after it.
  const state = await findLabState(path).catch(async (error: unknown) => {
    if (!sweeping) throw error;
    process.stderr.write(`${(error as Error).message}: removing it\n`);
    await rm(path, { force: true });
    return null;
  });
  if (state) {
    await Lab.attach(state).destroy();
    await rm(path, { force: true });
    process.stdout.write(`lab ${state.plan.prefix} down\n`);
  }
  if (sweeping) {
    const removed = await removeLabsByPrefix(flags.prefix ?? LAB_PREFIX_FAMILY);
    process.stdout.write(`removed ${removed.length} leftover namespace(s)${removed.length ? `: ${removed.join(' ')}` : ''}\n`);
  } else if (!state) {
    process.stdout.write(`no lab is up (${path}); \`ntcp lab down --all\` removes leftovers of every lab\n`);
  }
}

async function verify(flags: { state: string; json?: boolean }): Promise<void> {
  const state = await findLabState(resolve(flags.state));
  const lab = state ? Lab.attach(state) : await Lab.create({ sites: VERIFY_SITES });
  try {
    const rows = await verifyLab(lab);
    if (flags.json) for (const row of rows) process.stdout.write(JSON.stringify({ event: 'verify', ...row }) + '\n');
    else process.stdout.write(formatVerifyTable(rows));
    const failed = rows.filter((row) => !row.ok).length;
    if (!flags.json) process.stdout.write(`${rows.length - failed}/${rows.length} checks as configured\n`);
    if (failed > 0) process.exitCode = EXIT_FAILURE;
  } finally {
    if (!state) await lab.destroy();
  }
}

/** `ntcp lab up|exec|down|verify`: the NAT lab from the command line (root only). */
export function register(program: Command): void {
  const lab = program.command('lab').description('real kernel NATs in network namespaces, for trying ntcp (root only)');
  const stateOption = ['--state <file>', 'where the running lab is described', DEFAULT_STATE] as const;

  lab
    .command('up')
    .description('build a lab: server, sites a/b/c (NAT presets), optional delay/jitter/loss per site link')
    .option('--a <preset>', 'site a: none, full-cone, restricted-cone, port-restricted, symmetric, symmetric-seq:N')
    .option('--b <preset>', 'site b (same presets)')
    .option('--c <preset>', 'site c (same presets)')
    .option('--site <spec>', 'more sites: name=preset[,hosts=N][,behind=site][,udp=block] (repeatable)', parseSite)
    .option('--hosts <n>', 'hosts behind each of --a/--b/--c', boundedNumber('hosts', 50), 1)
    .option('--delay <ms>', 'round-trip time each site link adds', boundedNumber('delay', 10_000))
    .option('--jitter <ms>', 'delay variation per packet', boundedNumber('jitter', 10_000))
    .option('--loss <percent>', 'packets lost per direction on each site link', boundedNumber('loss', 100))
    .option(...stateOption)
    .option('--json', 'one JSON line')
    .action(up);

  lab
    .command('exec')
    .description('run a command inside a lab host (server, a, a1, ...)')
    .argument('<host>')
    .argument('[command...]')
    .option(...stateOption)
    .action(exec);

  lab
    .command('down')
    .description('tear the lab down (with --all: every leftover lab namespace on this machine)')
    .option('--all', `also remove every namespace named ${LAB_PREFIX_FAMILY}*-*`)
    .option('--prefix <prefix>', 'also remove every namespace named <prefix>*-*')
    .option(...stateOption)
    .action(down);

  lab
    .command('verify')
    .description('probe every site and compare the observed NAT behaviour with the configured one')
    .option(...stateOption)
    .option('--json', 'one JSON line per check')
    .action(verify);
}
