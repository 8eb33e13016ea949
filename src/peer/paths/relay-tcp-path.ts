import { attachTcp, parseRelayEndpoints } from '../../relay/index.js';
import { selectStream, verifyStream } from '../../punch/tcp/index.js';
import { RelayUnavailableError } from '../errors.js';
import type { Established, PathContext, PathStrategy } from './path-strategy.js';

/**
 * TCP through the built-in relay: attach with this peer's token, then the same per-connection
 * handshake as a punched stream, end to end through the relay (it cannot impersonate the peer).
 * The initiator selects the stream when it keeps it (`commit`); the responder resolves only once
 * it is selected, so both ends agree when a direct path races the relay.
 */
export const relayTcpPath: PathStrategy = {
  name: 'relay-tcp',
  async establish(context: PathContext): Promise<Established> {
    const { coordination } = context;
    if (coordination.relay === undefined) throw new RelayUnavailableError();
    const endpoints = parseRelayEndpoints(coordination.relay.endpoints);
    const socket = await attachTcp({
      host: endpoints.host, port: endpoints.tcpPort, token: coordination.relay.token, signal: context.signal, timeoutMs: context.timeoutMs,
    });
    try {
      // No deadline of its own beyond the connect's: the responder waits for the initiator's choice.
      await verifyStream(socket, {
        role: coordination.role, connectionId: coordination.connectionId, secret: coordination.secret, signal: context.signal,
        timeoutMs: context.timeoutMs,
      });
      socket.setNoDelay(true);
      const commit = coordination.role === 'initiator' ? () => selectStream(socket) : undefined;
      return { transport: 'tcp', socket, method: 'relay', ...(commit ? { commit } : {}) };
    } catch (error) {
      socket.destroy();
      throw error;
    }
  },
};
