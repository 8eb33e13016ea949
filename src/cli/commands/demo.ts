import type { Command } from 'commander';
import { InvalidArgumentError, NtcpError } from '../../errors.js';
import { describeNat, Lab, labUnavailableReason, resolveNat, type NatPreset } from '../../lab/index.js';
import { DEFAULT_RELAY_PORT } from '../../relay/index.js';
import { NtcpProcess, type NtcpEvent } from '../ntcp-process.js';
import { formatAddress, startStunServer, tcpBinding, udpBinding, type StunServer } from '../../stun/index.js';

const PRIMARY = '127.0.0.1';
const ALTERNATE = '127.0.0.2';
const QUERY_TIMEOUT_MS = 3000;

async function startDemoServer(): Promise<StunServer> {
  const addresses = { host: PRIMARY, altHost: ALTERNATE };
  try {
    return await startStunServer({ ...addresses, port: 3478, altPort: 3479 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    process.stdout.write('ports 3478/3479 are busy: using free ports instead\n');
    return startStunServer({ ...addresses, port: 0, altPort: 0 });
  }
}

/** The STUN part of the demo: our server on two loopback addresses, queried by our client. */
async function stunDemo(say: (line: string) => void): Promise<void> {
  const server = await startDemoServer();
  try {
    const { port, altPort } = server.endpoints;
    say(`1. STUN server up on ${PRIMARY} and ${ALTERNATE}, ports ${port} and ${altPort}, UDP and TCP (a full RFC 5780 server)`);
    const target = { host: PRIMARY, port };
    const udp = await udpBinding({ server: target, rtoMs: 100, timeoutMs: QUERY_TIMEOUT_MS });
    say(`2. over UDP the server sees us as ${formatAddress(udp.mapped)} (round trip ${udp.rttMs.toFixed(2)} ms)`);
    say(`   it answered from ${udp.responseOrigin ? formatAddress(udp.responseOrigin) : '?'} and names its other address ${udp.otherAddress ? formatAddress(udp.otherAddress) : '(none)'}`);
    const tcp = await tcpBinding({ server: target, timeoutMs: QUERY_TIMEOUT_MS });
    say(`3. over TCP the server sees us as ${formatAddress(tcp.mapped)}`);
    const changed = await udpBinding({ server: target, changeIp: true, changePort: true, rtoMs: 100, timeoutMs: QUERY_TIMEOUT_MS });
    say(`4. asked to answer from its other address and port (CHANGE-REQUEST), it replied from ${formatAddress(changed.server)}`);
    const sameMapping = udp.mapped.port === udp.local.port;
    say(`   no NAT between us: mapped address equals our local socket (${sameMapping ? 'yes' : 'no'})`);
    const counters = server.counters.snapshot();
    say(`5. server counters: ${Object.entries(counters).map(([name, value]) => `${name}=${value}`).join(' ')}`);
  } finally {
    await server.close();
  }
  say('6. server shut down cleanly');
}

interface DemoFlags {
  a: NatPreset;
  b: NatPreset;
  delay?: number;
}

/** Every step of the lab demo must finish within this long (a fresh 2-core machine does it in seconds). */
const STEP_TIMEOUT_MS = 20_000;

function natPreset(text: string): NatPreset {
  try {
    resolveNat(text as NatPreset);
  } catch (error) {
    throw new InvalidArgumentError(`not a NAT preset: ${text} (try none, full-cone, restricted-cone, port-restricted, symmetric, symmetric-seq:2)`, { cause: error });
  }
  return text as NatPreset;
}

function delayMs(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 1000) throw new InvalidArgumentError(`--delay must be 0..1000 ms, got ${text}`);
  return value;
}

/** The command line that runs this very CLI again (built or through tsx). */
function ntcpArgv(args: string[]): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!, ...args];
}

function natWords(event: NtcpEvent): string {
  const nat = event.nat as { udp?: string | null; tcp?: string | null } | undefined;
  return `udp ${nat?.udp ?? '?'}, tcp ${nat?.tcp ?? '?'}`;
}

/**
 * One netcat session between a1 (connect) and b1 (listen): both register, connect (direct when a
 * path completes within the relay deadline, through the server's relay otherwise), each sends a
 * line to the other, then the dialler's stdin ends (and the listener's, for TCP's half-close).
 */
async function labSession(lab: Lab, server: string, transport: 'udp' | 'tcp', say: (line: string) => void): Promise<void> {
  const udp = transport === 'udp' ? ['--udp'] : [];
  const ids = { a: `alice-${transport}`, b: `bob-${transport}` };
  const listener = new NtcpProcess(lab.spawn('b1', ntcpArgv(['listen', '--server', server, '--id', ids.b, ...udp, '--json'])), 'b1 listen');
  try {
    const registered = await listener.waitForEvent(['registered'], STEP_TIMEOUT_MS);
    say(`   b1 registered as ${ids.b} (NAT seen from b1: ${natWords(registered)}); now listening`);
    const dialler = new NtcpProcess(lab.spawn('a1', ntcpArgv(['connect', '--server', server, '--id', ids.a, ids.b, ...udp, '--json'])), 'a1 connect');
    const diallerRegistered = await dialler.waitForEvent(['registered'], STEP_TIMEOUT_MS);
    say(`   a1 registered as ${ids.a} (NAT seen from a1: ${natWords(diallerRegistered)}); connecting to ${ids.b}`);
    const [outgoing, incoming] = await Promise.all([
      dialler.waitForEvent(['connected'], STEP_TIMEOUT_MS),
      listener.waitForEvent(['connected'], STEP_TIMEOUT_MS),
    ]);
    say(`   connected by ${String(outgoing.method)} in ${String(outgoing.elapsedMs)} ms from connect(): a1 ${String(outgoing.local)} -> ${String(outgoing.remote)}; b1 sees ${String(incoming.remote)}`);
    dialler.write(`hello bob, this is alice over ${transport}\n`);
    listener.write(`hi alice, bob here over ${transport}\n`);
    await Promise.all([listener.waitForOutput('this is alice', STEP_TIMEOUT_MS), dialler.waitForOutput('bob here', STEP_TIMEOUT_MS)]);
    say(`   b1 received: ${listener.stdout.trim()}`);
    say(`   a1 received: ${dialler.stdout.trim()}`);
    dialler.endInput();
    if (transport === 'tcp') listener.endInput();
    const codes = await Promise.all([dialler.exited, listener.exited]);
    say(`   both ends closed the session (exit codes ${codes.join(' and ')})`);
    if (codes.some((code) => code !== 0)) throw new NtcpError('ERR_FAIL', `a ${transport} session did not end cleanly`);
  } finally {
    listener.child.kill();
  }
}

/** The lab part: two NATed sites and a server in network namespaces, peers run by the real CLI. */
async function labDemo(flags: DemoFlags, say: (line: string) => void): Promise<void> {
  const started = performance.now();
  const lab = await Lab.create({ sites: [{ name: 'a', nat: flags.a }, { name: 'b', nat: flags.b }], ...(flags.delay ? { delayMs: flags.delay } : {}) });
  try {
    const [primary, alternate] = lab.serverAddresses;
    say(`1. lab built in ${Math.round(lab.buildMs)} ms: server ${primary} and ${alternate} on the "internet"${flags.delay ? `, ${flags.delay} ms one-way delay per site link` : ''}`);
    say(`   site a: ${flags.a} (${describeNat(lab.nat('a'))}), host a1 ${lab.address('a1')} behind ${lab.publicAddress('a')}`);
    say(`   site b: ${flags.b} (${describeNat(lab.nat('b'))}), host b1 ${lab.address('b1')} behind ${lab.publicAddress('b')}`);
    const server = new NtcpProcess(lab.spawn('server', ntcpArgv(['server', '--host', primary, '--alt-host', alternate, '--json'])), 'server');
    await server.waitFor((event) => event.msg === 'ready', 'ready', STEP_TIMEOUT_MS);
    say(`2. ntcp server running in the server host: STUN ${primary}:3478 (+ ${alternate}:3479), broker ${primary}:8123, relay ${primary}:${DEFAULT_RELAY_PORT} (fallback)`);
    say('3. UDP: ntcp listen --udp in b1, ntcp connect --udp in a1');
    await labSession(lab, primary, 'udp', say);
    say('4. TCP: ntcp listen in b1, ntcp connect in a1');
    await labSession(lab, primary, 'tcp', say);
  } finally {
    await lab.destroy();
  }
  say(`5. lab torn down; the whole demo took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * `ntcp demo`: as root, two peers behind NATs of the user's choosing connect through `ntcp
 * server` in a network-namespace lab, over UDP and TCP; otherwise the STUN part on loopback.
 */
export function register(program: Command): void {
  program
    .command('demo')
    .description('show ntcp at work: two peers behind lab NATs connect over UDP and TCP (root), or STUN on loopback')
    .option('--a <preset>', 'NAT of site a (the dialling side)', natPreset, 'port-restricted' as NatPreset)
    .option('--b <preset>', 'NAT of site b (the listening side)', natPreset, 'symmetric-seq:2' as NatPreset)
    .option('--delay <ms>', 'one-way delay on each site link', delayMs)
    .option('--loopback', 'run only the STUN part on loopback (no root needed)')
    .action(async (flags: DemoFlags & { loopback?: boolean }) => {
      const say = (line: string): void => void process.stdout.write(line + '\n');
      const unavailable = labUnavailableReason();
      if (flags.loopback || unavailable) {
        if (!flags.loopback) say(`The NAT lab part of the demo needs root (${unavailable}); running the loopback STUN part instead.\n`);
        await stunDemo(say);
        return;
      }
      say(`ntcp demo: a peer behind ${flags.a} connects to a peer behind ${flags.b}, through real kernel NATs\n`);
      await labDemo(flags, say);
    });
}
