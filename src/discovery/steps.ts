import type { TransportAddress } from '../codec/index.js';
import type { ProbeObservation } from './profile.js';

/** Progress of a running discovery, one event per finished probe (CLIs show them while it runs). */
export interface DiscoveryStep {
  transport: 'udp' | 'tcp' | 'cache';
  test: string;
  outcome: ProbeObservation['outcome'] | 'hit';
  mapped?: TransportAddress;
  /** ms since discovery started. */
  elapsedMs: number;
  detail?: string;
}

export type StepListener = (step: DiscoveryStep) => void;

/** Turns an observation into a step, stamped with the time since `startedAt`. */
export function stepOf(transport: 'udp' | 'tcp', observation: ProbeObservation, startedAt: number): DiscoveryStep {
  const step: DiscoveryStep = {
    transport,
    test: observation.test,
    outcome: observation.outcome,
    elapsedMs: Math.round(performance.now() - startedAt),
  };
  if (observation.mapped) step.mapped = observation.mapped;
  if (observation.error) step.detail = observation.error;
  return step;
}
