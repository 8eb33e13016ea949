import { attachDatagrams, parseRelayEndpoints } from '../../relay/index.js';
import type { NatProfile } from '../../discovery/index.js';
import { RelayUnavailableError } from '../errors.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';
import { RelayedDatagrams } from './relayed-datagrams.js';

/** This host's NAT profile says no UDP gets through (discovery heard nothing back over UDP). */
export function udpBlocked(profile: Pick<NatProfile, 'udp'> | undefined): boolean {
  return profile?.udp?.rfc3489Type === 'udp-blocked';
}

/**
 * UDP through the built-in relay: attach with this peer's token (over TCP when this host's UDP is
 * known blocked, or when the relay answers no UDP attach within a second; see attachDatagrams),
 * then prove the per-connection secret end to end over the relayed channel before anything
 * reaches the user.
 */
export const relayUdpPath: PathStrategy = {
  name: 'relay-udp',
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    if (coordination.relay === undefined) throw new RelayUnavailableError();
    const endpoints = parseRelayEndpoints(coordination.relay.endpoints);
    const channel = await attachDatagrams(
      { endpoints, token: coordination.relay.token, udpBlocked: udpBlocked(context.profile), signal: context.signal, timeoutMs: context.timeoutMs },
      { logger: context.logger },
    );
    const connection = await RelayedDatagrams.establish(channel, {
      role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret,
      signal: context.signal, timeoutMs: context.timeoutMs, logger: context.logger,
    });
    return { transport: 'udp', connection, method: 'relay', commit: () => connection.select() };
  },
};
