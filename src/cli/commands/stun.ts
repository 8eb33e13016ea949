import type { Command } from 'commander';
import { InvalidArgumentError } from '../../errors.js';
import { formatAddress, tcpBinding, udpBinding, type BindingResult } from '../../stun/index.js';
import { EXIT_USAGE } from '../output.js';

/** Parses `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 literal. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const colons = text.split(':').length - 1;
  const [host, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : colons === 1
      ? [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)]
      : [text, undefined];
  const value = port === undefined ? defaultPort : Number(port);
  if (host === '' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidArgumentError(`expected HOST[:PORT], got ${text}`);
  }
  return { host, port: value };
}

function integer(name: string) {
  return (text: string) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a non-negative number, got ${text}`);
    return value;
  };
}

function describe(result: BindingResult, transport: string): string {
  const lines = [`mapped address ${formatAddress(result.mapped)} (${transport}, local ${formatAddress(result.local)}, rtt ${result.rttMs.toFixed(1)} ms)`];
  if (result.responseOrigin) lines.push(`response origin ${formatAddress(result.responseOrigin)}`);
  if (result.otherAddress) lines.push(`other address ${formatAddress(result.otherAddress)} (server supports RFC 5780 behaviour discovery)`);
  return lines.join('\n') + '\n';
}

/** `ntcp stun HOST[:PORT]`: one Binding request, prints our mapped address. */
export function register(program: Command): void {
  program
    .command('stun')
    .description('ask a STUN server for our mapped (public) address')
    .argument('<server>', 'HOST[:PORT] of the STUN server (port 3478 by default)')
    .option('--tcp', 'use TCP instead of UDP')
    .option('--json', 'print one JSON line')
    .option('--rto <ms>', 'initial retransmission timeout (UDP)', integer('--rto'))
    .option('--rc <n>', 'requests sent before giving up (UDP)', integer('--rc'))
    .option('--rm <n>', 'final wait, in RTOs, after the last request (UDP)', integer('--rm'))
    .option('--timeout <ms>', 'overall deadline', integer('--timeout'))
    .action(async (target: string, flags: { tcp?: boolean; json?: boolean; rto?: number; rc?: number; rm?: number; timeout?: number }) => {
      let server;
      try {
        server = parseHostPort(target, 3478);
      } catch (error) {
        process.stderr.write(`ntcp stun: ${(error as Error).message}\n`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      const transport = flags.tcp ? 'tcp' : 'udp';
      const result = flags.tcp
        ? await tcpBinding({ server, timeoutMs: flags.timeout })
        : await udpBinding({ server, rtoMs: flags.rto, rc: flags.rc, rm: flags.rm, timeoutMs: flags.timeout });
      if (flags.json) process.stdout.write(JSON.stringify({ event: 'binding', transport, ...result }) + '\n');
      else process.stdout.write(describe(result, transport));
    });
}
