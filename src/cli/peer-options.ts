import type { Command } from 'commander';
import { Peer } from '../peer/index.js';
import type { resolvePeerSettings } from './config.js';
import { port, positiveMs, serverOption } from './peer-session.js';
import { TURN_FLAG_HELP, turnOption } from './turn-flags.js';

/** The flags `ntcp listen` and `ntcp connect` share: where to register, as whom, and how. */
export function addPeerOptions(command: Command): Command {
  return command
    .option('--config <file>', 'JSON config file, `peer` section (default $NTCP_CONFIG); flags override it')
    .option('--server <host[:port]>', 'the server: HOST (broker 8123, STUN 3478) or HOST:BROKER_PORT; required here or in the config file')
    .option('--id <id>', 'the id to register (at most 64 bytes); required here or in the config file')
    .option('--stun-port <n>', 'the server\'s STUN port (default 3478)', port)
    .option('--broker-tls', 'reach the broker over TLS (a server run with --broker-tls-cert), its certificate verified')
    .option('--broker-ca <file>', 'with --broker-tls: PEM file of the CA that signed the broker\'s certificate (default: the system\'s root CAs)')
    .option('--probe-timeout <ms>', 'per-probe deadline of NAT discovery (default 1000)', positiveMs)
    .option('--json', 'progress as one JSON object per line on stderr')
    .option('--turn <url>', TURN_FLAG_HELP.turn)
    .option('--turn-user <user>', TURN_FLAG_HELP.user)
    .option('--turn-pass <password>', TURN_FLAG_HELP.pass)
    .option('--turn-secret <secret>', TURN_FLAG_HELP.secret)
    .option('--turn-ca <file>', TURN_FLAG_HELP.ca);
}

/** Registers the peer the resolved flags describe, for one transport (XInit). */
export function registerPeer(flags: ReturnType<typeof resolvePeerSettings>, transport: 'udp' | 'tcp'): Promise<Peer> {
  return Peer.register({
    server: serverOption(flags), id: flags.id, transports: [transport],
    ...(flags.probeTimeout ? { probeTimeoutMs: flags.probeTimeout } : {}),
    ...turnOption(flags),
  });
}
