import type { NatBehaviour } from './profile.js';
import type { Verdict } from './classify-mapping.js';

/**
 * What a filtering test saw: the response from the changed source, silence, a response from the
 * wrong source (the server ignored CHANGE-REQUEST), or an error (e.g. a 420 from a server without
 * RFC 5780 support).
 */
export type FilteringOutcome = 'response' | 'no-response' | 'wrong-origin' | 'error' | 'not-run';

export interface FilteringSamples {
  /** Test II: CHANGE-REQUEST change IP and port. */
  changeBoth: FilteringOutcome;
  /** Test III: CHANGE-REQUEST change port. */
  changePort: FilteringOutcome;
}

/** RFC 5780 section 4.4 decision. Both tests may run at once; a contradiction yields 'unknown'. */
export function classifyFiltering({ changeBoth, changePort }: FilteringSamples): Verdict<NatBehaviour> {
  const seen = `II=${changeBoth} III=${changePort}`;
  const unusable = (outcome: FilteringOutcome) => outcome === 'wrong-origin' || outcome === 'error' || outcome === 'not-run';
  if (unusable(changeBoth)) {
    return { value: 'unknown', notes: [`filtering: test II unusable, the server did not answer from its other address (${seen})`] };
  }
  if (changeBoth === 'response') {
    if (changePort === 'no-response') {
      return { value: 'unknown', notes: [`filtering: inconsistent, a new address and port got through but a new port alone did not (${seen})`] };
    }
    return { value: 'endpoint-independent', notes: [`filtering: a response from another address and port got through (${seen})`] };
  }
  if (unusable(changePort)) {
    return { value: 'unknown', notes: [`filtering: test III unusable, the server did not answer from its other port (${seen})`] };
  }
  if (changePort === 'response') {
    return { value: 'address-dependent', notes: [`filtering: only a response from the same address (other port) got through (${seen})`] };
  }
  return { value: 'address-and-port-dependent', notes: [`filtering: only responses from the exact address and port got through (${seen})`] };
}
