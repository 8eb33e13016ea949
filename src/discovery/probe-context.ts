import type { TransportAddress } from '../codec/index.js';
import { AbortedError, NtcpError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { BindingResult, RetransmitOptions } from '../stun/index.js';
import { StunTimeoutError } from '../stun/index.js';
import type { MappingLifetimeOptions } from './lifetime-probe.js';
import type { ProbeObservation } from './profile.js';
import { stepOf, type StepListener } from './steps.js';

/** What both probe runners share: where to probe, how patiently, and where to report. */
export interface ProbeContext {
  /** The server's primary transport address, resolved. */
  primary: TransportAddress;
  /** The alternate address the caller named, resolved; otherwise the server's OTHER-ADDRESS is used. */
  altServer: TransportAddress | undefined;
  /** Source address of the route to the server (stands in for a wildcard bind address). */
  routeLocal: string | null;
  timeoutMs: number;
  tcpTimeoutMs: number;
  /** Measure the UDP mapping lifetime (slow: up to its maxMs); undefined: do not. */
  lifetime: MappingLifetimeOptions | undefined;
  retransmit: RetransmitOptions;
  signal: AbortSignal;
  startedAt: number;
  onStep: StepListener;
  logger: Logger;
}

/** The four server combinations of RFC 5780 / XSTUNT's XCheckConeTCPProbe, from primary and alternate addresses. */
export function serverCombinations(primary: TransportAddress, alt: TransportAddress) {
  return {
    primary,
    altAddress: { ...alt, port: primary.port },
    altBoth: alt,
    altPort: { ...primary, port: alt.port },
  };
}

/** A local address with the wildcard bind address replaced by the route's source address. */
export function concreteLocal(local: TransportAddress, routeLocal: string | null): TransportAddress {
  const wildcard = local.address === '0.0.0.0' || local.address === '::';
  return wildcard && routeLocal ? { ...local, address: routeLocal } : local;
}

/**
 * Folds a probe failure into an observation: silence is 'no-response', anything else 'error'.
 * An abort by the caller is not an observation: it propagates.
 */
export function failedObservation(context: ProbeContext, base: Omit<ProbeObservation, 'outcome'>, error: unknown): ProbeObservation {
  if (context.signal.aborted) throw new AbortedError('NAT discovery aborted', { cause: context.signal.reason });
  const text = error instanceof NtcpError ? `${error.code}: ${error.message}` : error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}` : String(error);
  const outcome = error instanceof StunTimeoutError ? 'no-response' : 'error';
  return { ...base, outcome, error: text };
}

/** Observed RTTs go into the profile to a hundredth of a millisecond: finer digits are timer noise. */
export function roundRttMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** One Binding test: its observation and, when the server answered, what the answer said. */
export interface BindingTest {
  observation: ProbeObservation;
  /** The local address the request left from (a wildcard replaced by the route's source). */
  local?: TransportAddress;
  mapped?: TransportAddress;
  /** Where the response came from. */
  from?: TransportAddress;
  /** The server's alternate address, when it named one. */
  other?: TransportAddress;
}

/**
 * Runs one Binding request as a discovery test: an answer becomes a 'response' observation of
 * what the server saw, a failure one of silence or error; the step is reported either way.
 */
export async function runBindingTest(
  context: ProbeContext,
  transport: 'udp' | 'tcp',
  base: Omit<ProbeObservation, 'outcome'>,
  request: () => Promise<BindingResult>,
): Promise<BindingTest> {
  let done: BindingTest;
  try {
    const result = await request();
    const local = concreteLocal(result.local, context.routeLocal);
    done = {
      observation: { ...base, local, outcome: 'response', mapped: result.mapped, responseFrom: result.server, rttMs: roundRttMs(result.rttMs) },
      local,
      mapped: result.mapped,
      from: result.server,
    };
    if (result.otherAddress) done.other = result.otherAddress;
  } catch (error) {
    done = { observation: failedObservation(context, base, error) };
  }
  context.onStep(stepOf(transport, done.observation, context.startedAt));
  return done;
}
