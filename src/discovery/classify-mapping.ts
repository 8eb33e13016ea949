import type { TransportAddress } from '../codec/index.js';
import { formatAddress, sameTransportAddress } from './address.js';
import type { NatBehaviour } from './profile.js';

/**
 * Mapped addresses seen from ONE local socket, per destination (RFC 5780 section 4.3). undefined:
 * no answer. `altPort` (primary address, alternate port) is not in the RFC's flow; it cross-checks
 * the verdict (an address-dependent NAT must reuse the first mapping for it).
 */
export interface MappingSamples {
  /** Test I: primary address, primary port. */
  primary?: TransportAddress;
  /** Test II: alternate address, primary port. */
  altAddress?: TransportAddress;
  /** Test III: alternate address, alternate port. */
  altBoth?: TransportAddress;
  /** Primary address, alternate port. */
  altPort?: TransportAddress;
}

export interface Verdict<T> {
  value: T;
  notes: string[];
}

const show = (address: TransportAddress | undefined) => (address ? formatAddress(address) : 'none');

/** RFC 5780 section 4.3 decision, refusing to answer when the samples contradict each other. */
export function classifyMapping(samples: MappingSamples): Verdict<NatBehaviour> {
  const { primary, altAddress, altBoth, altPort } = samples;
  if (!primary) return { value: 'unknown', notes: ['mapping: test I got no answer'] };
  if (!altAddress) return { value: 'unknown', notes: ['mapping: test II (alternate address) got no answer'] };
  const seen = `I=${show(primary)} II=${show(altAddress)} III=${show(altBoth)} IV=${show(altPort)}`;
  const inconsistent = (why: string): Verdict<NatBehaviour> => ({ value: 'unknown', notes: [`mapping: inconsistent, ${why} (${seen})`] });

  if (sameTransportAddress(primary, altAddress)) {
    for (const other of [altBoth, altPort]) {
      if (other && !sameTransportAddress(other, primary)) return inconsistent('test II kept the mapping but another destination changed it');
    }
    return { value: 'endpoint-independent', notes: [`mapping: same mapped address for every destination (${seen})`] };
  }
  if (!altBoth) return { value: 'unknown', notes: [`mapping: test II changed the mapping and test III got no answer (${seen})`] };
  if (sameTransportAddress(altBoth, altAddress)) {
    if (altPort && !sameTransportAddress(altPort, primary)) {
      return inconsistent('the mapping followed the address, yet the primary address on another port got a new one');
    }
    return { value: 'address-dependent', notes: [`mapping: a new mapping per server address, kept across its ports (${seen})`] };
  }
  if (altPort && sameTransportAddress(altPort, primary)) {
    return inconsistent('the mapping changed with the port on the alternate address but not on the primary one');
  }
  return { value: 'address-and-port-dependent', notes: [`mapping: a new mapping per server address and port (${seen})`] };
}
