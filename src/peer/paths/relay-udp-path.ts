import { attachUdp, parseRelayEndpoints } from '../../relay/index.js';
import { RelayUnavailableError } from '../errors.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';
import { RelayedDatagrams } from './relayed-datagrams.js';

/**
 * UDP through the built-in relay: attach with this peer's token, then prove the per-connection
 * secret end to end over the relayed channel before anything reaches the user.
 */
export const relayUdpPath: PathStrategy = {
  name: 'relay-udp',
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    if (coordination.relay === undefined) throw new RelayUnavailableError();
    const endpoints = parseRelayEndpoints(coordination.relay.endpoints);
    const channel = await attachUdp(
      { host: endpoints.host, port: endpoints.udpPort, token: coordination.relay.token, signal: context.signal, timeoutMs: context.timeoutMs },
      { logger: context.logger },
    );
    const connection = await RelayedDatagrams.establish(channel, {
      role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret,
      signal: context.signal, timeoutMs: context.timeoutMs, logger: context.logger,
    });
    return { transport: 'udp', connection, method: 'relay', commit: () => connection.select() };
  },
};
