import type { Command } from 'commander';
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

/** `ntcp demo`: the README's main job. Grows with each layer (STUN now; lab, peers later). */
export function register(program: Command): void {
  program
    .command('demo')
    .description('show ntcp at work on embedded defaults')
    .action(async () => {
      await stunDemo((line) => process.stdout.write(line + '\n'));
    });
}
