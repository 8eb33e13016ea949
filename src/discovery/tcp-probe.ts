import type { TransportAddress } from '../codec/index.js';
import { tcpBinding } from '../stun/index.js';
import { sameTransportAddress } from './address.js';
import { classifyMapping, type MappingSamples } from './classify-mapping.js';
import type { MappingSample } from './classify-ports.js';
import { classifyTcpFingerprint } from './classify-tcp.js';
import { concreteLocal, runBindingTest, serverCombinations, type BindingTest, type ProbeContext } from './probe-context.js';
import type { ProbeObservation, TcpProfile } from './profile.js';

/** Connects from fresh local ports after the same-port ones: more consecutive new mappings for the delta. */
export const TCP_FRESH_CONNECTS = 3;

/**
 * Connects from fresh local ports started back to back for the second delta measurement (see
 * combineAllocations): five give four differences, so one interleaved mapping leaves a majority.
 */
export const TCP_DELTA_BURST = 5;

/**
 * XSTUNT's XCheckConeTCP: connect from ONE local port to the server's four address/port
 * combinations, then from fresh local ports, every connect waiting for the previous one, because
 * a sequential NAT hands out ports in the order mappings are created. The alternate address comes
 * from the TCP answer's OTHER-ADDRESS, the caller's altServer or, failing both, the UDP probe.
 */
export async function probeTcp(context: ProbeContext, udpOther: Promise<TransportAddress | undefined>): Promise<TcpProfile> {
  const observations: ProbeObservation[] = [];
  const series: MappingSample[] = [];
  const connect = async (test: string, server: TransportAddress, localPort?: number): Promise<BindingTest> => {
    const result = await tcpConnect(context, test, server, localPort);
    observations.push(result.observation);
    if (result.local && result.mapped) series.push({ localPort: result.local.port, mapped: result.mapped });
    return result;
  };

  const first = await connect('tcp-same-port-1', context.primary);
  if (!first.mapped || !first.local) {
    return {
      reachable: false,
      local: null,
      mapped: null,
      natPresent: 'unknown',
      mapping: 'unknown',
      portPreserving: 'unknown',
      kind: 'unknown',
      evidence: { observations, notes: ['tcp: no Binding over TCP to the server\'s primary address'] },
    };
  }
  const local = concreteLocal(first.local, context.routeLocal);
  const natPresent = !sameTransportAddress(first.mapped, local);
  const notes = [natPresent ? 'tcp: mapped address differs from the local one: behind a NAT' : 'tcp: mapped address equals the local one: no NAT'];
  const other = context.altServer ?? first.other ?? (await udpOther);
  const samePort: MappingSamples = { primary: first.mapped };
  if (other) {
    const targets = serverCombinations(context.primary, other);
    for (const [index, key] of (['altAddress', 'altBoth', 'altPort'] as const).entries()) {
      const result = await connect(`tcp-same-port-${index + 2}`, targets[key], first.local.port);
      if (result.mapped) samePort[key] = result.mapped;
    }
  } else {
    notes.push('tcp: no alternate server address known (no OTHER-ADDRESS, no altServer): cone test skipped');
  }
  for (let i = 1; i <= TCP_FRESH_CONNECTS; i++) await connect(`tcp-fresh-${i}`, context.primary);

  const burst = natPresent && mapsPerDestination(samePort) ? await deltaBurst(context, observations) : undefined;
  const verdict = classifyTcpFingerprint({ natPresent, samePort, series, ...(burst ? { burst } : {}) });
  const profile: TcpProfile = {
    reachable: true,
    local,
    mapped: first.mapped,
    natPresent,
    mapping: verdict.value.mapping,
    portPreserving: verdict.value.portPreserving,
    kind: verdict.value.kind,
    evidence: { observations, notes: [...notes, ...verdict.notes] },
  };
  if (verdict.value.delta !== undefined) profile.delta = verdict.value.delta;
  return profile;
}

function mapsPerDestination(samePort: MappingSamples): boolean {
  const mapping = classifyMapping(samePort).value;
  return mapping === 'address-dependent' || mapping === 'address-and-port-dependent';
}

/**
 * TCP_DELTA_BURST connects to the primary address, all started before any completes, so a
 * sequential NAT allocates their ports within about a millisecond, in the order of their SYNs:
 * the slow series, one handshake per mapping, is interleaved by other hosts' connections behind
 * the same NAT (lab: two hosts probing at once read deltas 4,2,2,3,1,1 for delta 1).
 */
async function deltaBurst(context: ProbeContext, observations: ProbeObservation[]): Promise<number[]> {
  const results = await Promise.all(Array.from({ length: TCP_DELTA_BURST }, (_, i) => tcpConnect(context, `tcp-burst-${i + 1}`, context.primary)));
  observations.push(...results.map((result) => result.observation));
  return results.flatMap((result) => (result.mapped ? [result.mapped.port] : []));
}

function tcpConnect(context: ProbeContext, test: string, server: TransportAddress, localPort?: number): Promise<BindingTest> {
  // An explicit bind sets SO_REUSEADDR, which the same-port connects after the first one need.
  const wildcard = server.family === 'IPv6' ? '::' : '0.0.0.0';
  const intended = localPort === undefined ? null : concreteLocal({ family: server.family, address: wildcard, port: localPort }, context.routeLocal);
  return runBindingTest(context, 'tcp', { test, local: intended, server }, () =>
    tcpBinding({
      server: { host: server.address, port: server.port },
      localAddress: wildcard,
      localPort,
      timeoutMs: context.tcpTimeoutMs,
      signal: context.signal,
    }),
  );
}
