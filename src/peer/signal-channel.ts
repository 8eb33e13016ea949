import type { BrokerClient, SignalEvent } from '../broker/index.js';
import type { Logger } from '../observe/logger.js';

export interface SignalChannel {
  send(payload: object): void;
  onMessage(handler: (payload: object) => void): () => void;
}

/**
 * The broker's signal relay for one coordination, in the shape the punch engines take. A send
 * while the broker connection is down is logged, not thrown: the engines keep punching with
 * what they have.
 */
export function signalChannel(broker: BrokerClient, connectionId: string, logger: Logger): SignalChannel {
  return {
    send(payload) {
      try {
        broker.signal(connectionId, payload);
      } catch (error) {
        logger.warn({ err: error, connectionId }, 'signal to the peer not sent');
      }
    },
    onMessage(handler) {
      const listener = (event: SignalEvent): void => {
        if (event.connectionId === connectionId && typeof event.payload === 'object' && event.payload !== null) handler(event.payload);
      };
      broker.on('signal', listener);
      return () => broker.off('signal', listener);
    },
  };
}
