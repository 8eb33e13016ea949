import type { TransportAddress, StunMessage } from '../codec/index.js';
import { StunTimeoutError, type StunUdpSocket } from '../stun/index.js';
import type { ProbeContext } from './probe-context.js';

export type Delivery = { kind: 'arrived'; from: TransportAddress } | { kind: 'silence'; error: StunTimeoutError } | { kind: 'failed'; error: unknown };

/**
 * Sends `request` from `sender` (retransmitting per the context) and waits for any datagram with
 * its transaction id to reach `receiver`, which nobody answers: the hairpinning and mapping
 * lifetime tests learn from where a message lands, not from a response.
 */
export async function awaitDelivery(
  context: ProbeContext,
  sender: StunUdpSocket,
  receiver: StunUdpSocket,
  request: StunMessage,
  to: TransportAddress,
): Promise<Delivery> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  context.signal.addEventListener('abort', onAbort, { once: true });
  let onMessage: ((bytes: Buffer, rinfo: { address: string; port: number }) => void) | undefined;
  const arrived = new Promise<Delivery>((resolve) => {
    onMessage = (bytes, rinfo) => {
      if (bytes.length >= 20 && bytes.subarray(8, 20).equals(request.transactionId)) {
        resolve({ kind: 'arrived', from: { family: to.family, address: rinfo.address, port: rinfo.port } });
      }
    };
    receiver.on('message', onMessage);
  });
  const sent = sender.request(request, { host: to.address, port: to.port }, { ...context.retransmit, timeoutMs: context.timeoutMs, signal: stop.signal }).then(
    (): Delivery => ({ kind: 'failed', error: new Error('the request was answered by its destination instead of landing on the receiver') }),
    (error: unknown): Delivery => (error instanceof StunTimeoutError ? { kind: 'silence', error } : { kind: 'failed', error }),
  );
  try {
    return await Promise.race([arrived, sent]);
  } finally {
    stop.abort();
    context.signal.removeEventListener('abort', onAbort);
    if (onMessage) receiver.off('message', onMessage);
  }
}
