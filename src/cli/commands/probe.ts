import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { discoverNat, type DiscoveryStep, type DiscoveryTransport, type NatProfile } from '../../discovery/index.js';
import { formatAddress } from '../../stun/index.js';
import { EXIT_USAGE } from '../output.js';
import { parsePositiveNumber } from '../option-parsers.js';
import { parseHostPort } from './stun.js';

interface Flags {
  server: string;
  altServer?: string;
  tcp?: boolean;
  udp?: boolean;
  json?: boolean;
  timeout?: number;
  cache?: string;
  lifetime?: number;
}

const endpoint = (server: { host: string; port: number }) => formatAddress({ address: server.host, port: server.port });
const address = (value: { address: string; port: number } | null | undefined) => (value ? formatAddress(value) : 'none');
const yesNo = (value: boolean | 'unknown') => (value === 'unknown' ? 'unknown' : value ? 'yes' : 'no');

function showStep(step: DiscoveryStep): void {
  const mapped = step.mapped ? ` -> ${formatAddress(step.mapped)}` : '';
  const detail = step.detail ? ` (${step.detail})` : '';
  process.stderr.write(`  ${String(step.elapsedMs).padStart(5)} ms  ${step.test.padEnd(18)} ${step.outcome}${mapped}${detail}\n`);
}

/** The human summary: what a user needs to know, the evidence stays in --json. */
export function describeProfile(profile: NatProfile): string {
  const lines = [
    `NAT profile against ${endpoint(profile.server)}${profile.altServer ? ` (alternate ${formatAddress(profile.altServer)})` : ''} in ${profile.durationMs} ms`,
    `local address      ${profile.local.address ?? 'unknown'} (interfaces: ${profile.local.interfaces.join(', ') || 'none'})`,
  ];
  const { udp, tcp } = profile;
  if (udp) {
    lines.push(
      `UDP                ${udp.rfc3489Type} (RFC 3489)`,
      `  public address   ${address(udp.mapped)} (local ${address(udp.local)})`,
      `  mapping          ${udp.mapping}`,
      `  filtering        ${udp.filtering}`,
      `  hairpinning      ${udp.hairpinning}`,
      `  port preserving  ${yesNo(udp.portPreserving)}${udp.delta !== undefined ? `, delta ${udp.delta}` : ''}`,
    );
    const lifetime = udp.mappingLifetime;
    if (lifetime) {
      lines.push(`  mapping lifetime alive after ${lifetime.aliveMs} ms idle, ${lifetime.expiredMs === null ? 'never seen gone' : `gone after ${lifetime.expiredMs} ms`}`);
    }
  }
  if (tcp) {
    const kind = tcp.kind === 'delta-symmetric' ? `delta-${tcp.delta} symmetric` : tcp.kind;
    lines.push(
      tcp.reachable ? `TCP                ${kind}` : 'TCP                unreachable',
      `  public address   ${address(tcp.mapped)} (local ${address(tcp.local)})`,
      `  mapping          ${tcp.mapping}`,
      `  port preserving  ${yesNo(tcp.portPreserving)}`,
    );
  }
  const unknown = [udp, tcp].filter((part) => part && JSON.stringify(part).includes('"unknown"'));
  if (unknown.length > 0) lines.push('some results are unknown: `--json` shows the evidence');
  return lines.join('\n') + '\n';
}

/** `ntcp probe --server HOST[:PORT]`: NAT behaviour discovery over UDP and TCP. */
export function register(program: Command): void {
  program
    .command('probe')
    .description('discover the NAT behaviour between this host and a STUN server (RFC 5780, RFC 3489 names, TCP fingerprint)')
    .requiredOption('--server <host[:port]>', 'RFC 5780 STUN server (port 3478 by default)')
    .option('--alt-server <host[:port]>', "the server's alternate address, when it sends no OTHER-ADDRESS")
    .option('--udp', 'UDP tests only')
    .option('--tcp', 'TCP tests only')
    .option('--json', 'print the profile as one JSON document')
    .option('--timeout <ms>', 'per probe deadline; tests that expect silence wait this long (default 1000)', parsePositiveNumber)
    .option('--cache <file>', 'reuse a matching profile from this file and store new ones in it')
    .option('--lifetime <max-ms>', 'also measure how long an idle UDP mapping lives, checking up to this idle time (slow)', parsePositiveNumber)
    .action(async (flags: Flags) => {
      let server;
      let altServer;
      try {
        if (flags.tcp && flags.udp) throw new InvalidArgumentError('--tcp and --udp exclude each other (neither means both)');
        server = parseHostPort(flags.server, 3478);
        altServer = flags.altServer ? parseHostPort(flags.altServer, server.port + 1) : undefined;
      } catch (error) {
        process.stderr.write(`ntcp probe: ${(error as Error).message}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      const transports: DiscoveryTransport[] = flags.udp ? ['udp'] : flags.tcp ? ['tcp'] : ['udp', 'tcp'];
      const controller = new AbortController();
      const onSignal = () => controller.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      try {
        if (!flags.json) process.stderr.write(`probing ${endpoint(server)} over ${transports.join(' and ')} ...\n`);
        const profile = await discoverNat({
          server,
          altServer,
          transports,
          timeoutMs: flags.timeout,
          cachePath: flags.cache,
          mappingLifetime: flags.lifetime === undefined ? false : { maxMs: flags.lifetime },
          signal: controller.signal,
          onStep: flags.json ? undefined : showStep,
        });
        process.stdout.write(flags.json ? JSON.stringify(profile) + '\n' : describeProfile(profile));
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
