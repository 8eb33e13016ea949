import { Counters } from '../observe/counters.js';

export type StunServerCounter =
  | 'udp.received' | 'udp.responses' | 'udp.send-errors'
  | 'tcp.received' | 'tcp.responses' | 'tcp.connections' | 'tcp.rejected' | 'tcp.idle-timeouts' | 'tcp.framing-errors'
  | 'dropped.garbage' | 'dropped.not-request' | 'dropped.legacy-not-binding' | 'dropped.rate-limited'
  | 'errors.400' | 'errors.401' | 'errors.420';

/** Counters whose two per-datagram entries are plain fields: a Map update per packet is measurable. */
export class StunServerCounters extends Counters<StunServerCounter> {
  udpReceived = 0;
  udpResponses = 0;

  override increment(name: StunServerCounter, by = 1): void {
    if (name === 'udp.received') this.udpReceived += by;
    else if (name === 'udp.responses') this.udpResponses += by;
    else super.increment(name, by);
  }

  override get(name: StunServerCounter): number {
    if (name === 'udp.received') return this.udpReceived;
    if (name === 'udp.responses') return this.udpResponses;
    return super.get(name);
  }

  override snapshot(): Record<string, number> {
    const hot: Record<string, number> = {};
    if (this.udpReceived > 0) hot['udp.received'] = this.udpReceived;
    if (this.udpResponses > 0) hot['udp.responses'] = this.udpResponses;
    return { ...hot, ...super.snapshot() };
  }
}
