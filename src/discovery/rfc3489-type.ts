import type { NatBehaviour, Rfc3489Type } from './profile.js';

export interface Rfc3489Inputs {
  udpBlocked: boolean;
  natPresent: boolean | 'unknown';
  mapping: NatBehaviour;
  filtering: NatBehaviour;
}

/** Maps RFC 5780 behaviours onto the RFC 3489 section 5 vocabulary (RFC 5780 section 1 explains the overlap). */
export function rfc3489Type({ udpBlocked, natPresent, mapping, filtering }: Rfc3489Inputs): Rfc3489Type {
  if (udpBlocked) return 'udp-blocked';
  if (natPresent === 'unknown') return 'unknown';
  if (!natPresent) {
    if (filtering === 'unknown') return 'unknown';
    return filtering === 'endpoint-independent' ? 'open-internet' : 'symmetric-udp-firewall';
  }
  if (mapping === 'address-dependent' || mapping === 'address-and-port-dependent') return 'symmetric';
  if (mapping === 'unknown') return 'unknown';
  switch (filtering) {
    case 'endpoint-independent':
      return 'full-cone';
    case 'address-dependent':
      return 'restricted-cone';
    case 'address-and-port-dependent':
      return 'port-restricted-cone';
    default:
      return 'unknown';
  }
}
