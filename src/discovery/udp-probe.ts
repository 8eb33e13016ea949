import type { TransportAddress } from '../codec/index.js';
import { bindingRequest, StunUdpSocket, udpBinding } from '../stun/index.js';
import { formatAddress, sameTransportAddress } from './address.js';
import { awaitDelivery } from './delivery.js';
import { probeMappingLifetime } from './lifetime-probe.js';
import { classifyFiltering, type FilteringOutcome } from './classify-filtering.js';
import { classifyMapping, type MappingSamples } from './classify-mapping.js';
import { classifyPortAllocation, classifyPortPreservation, newMappingPorts } from './classify-ports.js';
import { combineAllocations } from './classify-delta.js';
import { concreteLocal, failedObservation, runBindingTest, serverCombinations, type BindingTest, type ProbeContext } from './probe-context.js';
import type { Hairpinning, ProbeObservation, UdpProfile } from './profile.js';
import { rfc3489Type } from './rfc3489-type.js';
import { stepOf } from './steps.js';
import { testIVerdict, UDP_BLOCKED_SILENCE_MS, UDP_TEST_I_MARGIN_MS, UDP_TEST_I_RTO_MS } from './udp-blocked.js';

/**
 * A test that expects silence listens at least this many test I round trips: on a slow path or a
 * busy host an answer that is merely late must not read as filtered.
 */
export const SILENCE_RTT_FACTOR = 4;

/** Fresh sockets added to the mapping series of a symmetric NAT, so the delta rests on enough differences. */
export const UDP_FRESH_MAPPINGS = 2;

/**
 * Fresh sockets whose Binding requests leave back to back for the second delta measurement: five
 * give four differences, so one interleaved mapping still leaves a strict majority.
 */
export const UDP_DELTA_BURST = 5;

/**
 * RFC 5780 over UDP. Test I runs from two sockets at once: socket A then walks the server's
 * other three address/port combinations one after another (mapping, section 4.3, and the order of
 * new mappings for the delta), while socket B, whose mapping only ever saw the primary address,
 * runs filtering tests II and III in parallel (section 4.4). Hairpinning (section 4.5) follows
 * the mapping series because it opens one more mapping.
 */
export async function probeUdp(context: ProbeContext, reportOther: (other: TransportAddress | undefined) => void): Promise<UdpProfile> {
  const type = context.primary.family === 'IPv6' ? 'udp6' : 'udp4';
  const sockets: StunUdpSocket[] = [];
  const open = async () => {
    const socket = await StunUdpSocket.bind({ type });
    sockets.push(socket);
    return socket;
  };
  try {
    const [a, b] = [await open(), await open()];
    // 1. Test I from both sockets. Its silence alone would say "UDP blocked", so it retransmits
    //    over a longer window than the other tests; an answer (the normal case) ends it at once.
    const testI = {
      ...context,
      timeoutMs: Math.max(context.timeoutMs, UDP_BLOCKED_SILENCE_MS + UDP_TEST_I_MARGIN_MS),
      retransmit: { rtoMs: UDP_TEST_I_RTO_MS, ...context.retransmit },
    };
    const [a1, b1] = await Promise.all([timed(() => binding(testI, 'udp-mapping-1', a, context.primary)), timed(() => binding(testI, 'udp-filtering-1', b, context.primary))]);
    const other = context.altServer ?? a1.other ?? b1.other;
    reportOther(other);
    const observations = [a1.observation, b1.observation];
    const notes: string[] = [];
    if (!a1.mapped && !b1.mapped) {
      const blocked = testIVerdict([a1, b1].map((run) => ({ outcome: run.observation.outcome, listenedMs: run.listenedMs }))) === 'blocked';
      notes.push(blocked ? `udp: no answer to test I from either socket within ${testI.timeoutMs} ms: UDP blocked` : 'udp: test I failed (see observations)');
      return blockedProfile(blocked, a, context, observations, notes);
    }
    const anchor = a1.mapped ? a1 : b1;
    const anchorSocket = a1.mapped ? a : b;
    const local = concreteLocal(anchorSocket.local(), context.routeLocal);
    const natPresent = !sameTransportAddress(anchor.mapped!, local);
    notes.push(natPresent ? 'udp: mapped address differs from the local one: behind a NAT' : 'udp: mapped address equals the local one: no NAT');
    if (!other) notes.push('udp: the server sent no OTHER-ADDRESS and no altServer was given: RFC 5780 tests skipped');

    const rttMs = Math.max(a1.observation.rttMs ?? 0, b1.observation.rttMs ?? 0);
    const listening = { ...context, timeoutMs: Math.max(context.timeoutMs, Math.ceil(SILENCE_RTT_FACTOR * rttMs)) };
    const [[mappingPart, hairpin], filteringPart] = await Promise.all([
      // Hairpinning opens one more mapping, so it waits until the delta series is complete.
      mappingTrack(context, { a, a1, other, open }).then(async (part) => [part, await hairpinTest(listening, anchorSocket, anchor.mapped!, open)] as const),
      filteringTrack(listening, { b, b1, other }),
    ]);
    observations.push(...mappingPart.observations, ...filteringPart.observations, hairpin.observation);
    notes.push(...mappingPart.notes, ...filteringPart.notes, hairpin.note);

    const preservation = classifyPortPreservation(
      [...mappingPart.series, { localPort: b.local().port, mapped: b1.mapped }]
        .filter((sample): sample is { localPort: number; mapped: TransportAddress } => sample.mapped !== undefined)
        .map((sample) => ({ localPort: sample.localPort, mappedPort: sample.mapped.port })),
    );
    notes.push(...preservation.notes);
    // Last, alone: its mappings would otherwise land in the middle of the delta series.
    const lifetimePart = context.lifetime ? await probeMappingLifetime(context, context.lifetime) : undefined;
    if (lifetimePart) {
      observations.push(...lifetimePart.observations);
      notes.push(...lifetimePart.notes);
    }
    const profile: UdpProfile = {
      local,
      mapped: anchor.mapped!,
      natPresent,
      mapping: mappingPart.mapping,
      filtering: filteringPart.filtering,
      hairpinning: hairpin.value,
      portPreserving: preservation.value,
      rfc3489Type: rfc3489Type({ udpBlocked: false, natPresent, mapping: mappingPart.mapping, filtering: filteringPart.filtering }),
      evidence: { observations, notes },
    };
    if (mappingPart.delta !== undefined) profile.delta = mappingPart.delta;
    if (lifetimePart?.lifetime) profile.mappingLifetime = lifetimePart.lifetime;
    return profile;
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
  }
}

function binding(
  context: ProbeContext,
  test: string,
  socket: StunUdpSocket,
  server: TransportAddress,
  change: { changeIp?: boolean; changePort?: boolean } = {},
): Promise<BindingTest> {
  const base = { test, local: concreteLocal(socket.local(), context.routeLocal), server };
  return runBindingTest(context, 'udp', base, () =>
    udpBinding({
      ...context.retransmit,
      ...change,
      server: { host: server.address, port: server.port },
      socket,
      timeoutMs: context.timeoutMs,
      signal: context.signal,
    }),
  );
}

/** A binding test and how long it took from first request to verdict. */
async function timed(test: () => Promise<BindingTest>): Promise<BindingTest & { listenedMs: number }> {
  const started = performance.now();
  const done = await test();
  return { ...done, listenedMs: performance.now() - started };
}

interface MappingTrackInput {
  a: StunUdpSocket;
  a1: BindingTest;
  other: TransportAddress | undefined;
  open: () => Promise<StunUdpSocket>;
}

/** Mapping tests II, III and the extra primary-address/alternate-port probe, strictly in order, then fresh sockets for the delta. */
async function mappingTrack(context: ProbeContext, { a, a1, other, open }: MappingTrackInput) {
  const observations: ProbeObservation[] = [];
  const series: Array<{ localPort: number; mapped: TransportAddress | undefined }> = [{ localPort: a.local().port, mapped: a1.mapped }];
  if (!other || !a1.mapped) {
    return { mapping: 'unknown' as const, observations, notes: ['mapping: not measured'], series, delta: undefined };
  }
  const targets = serverCombinations(context.primary, other);
  const samples: MappingSamples = { primary: a1.mapped };
  for (const [test, key] of [['udp-mapping-2', 'altAddress'], ['udp-mapping-3', 'altBoth'], ['udp-mapping-4', 'altPort']] as const) {
    const probe = await binding(context, test, a, targets[key]);
    observations.push(probe.observation);
    if (probe.mapped) samples[key] = probe.mapped;
    series.push({ localPort: a.local().port, mapped: probe.mapped });
  }
  const mapping = classifyMapping(samples);
  const notes = [...mapping.notes];
  let delta: number | undefined;
  if (mapping.value === 'address-dependent' || mapping.value === 'address-and-port-dependent') {
    for (let i = 1; i <= UDP_FRESH_MAPPINGS; i++) {
      const socket = await open();
      const probe = await binding(context, `udp-fresh-${i}`, socket, context.primary);
      observations.push(probe.observation);
      series.push({ localPort: socket.local().port, mapped: probe.mapped });
    }
    const burst = await deltaBurst(context, open);
    observations.push(...burst.observations);
    const allocation = combineAllocations(classifyPortAllocation(newMappingPorts(series.filter(hasMapped))), classifyPortAllocation(burst.ports));
    notes.push(...allocation.notes);
    if (allocation.value.kind === 'sequential') delta = allocation.value.delta;
  }
  return { mapping: mapping.value, observations, notes, series, delta };
}

/**
 * Binding requests from UDP_DELTA_BURST fresh sockets, all sent before any answer arrives, so the
 * NAT allocates their ports within about a millisecond, in the order they were sent. A slow series
 * one round trip per mapping leaves room for other hosts' mappings in between (seen in the lab:
 * concurrent probes behind one sequential NAT read deltas 2,3,3,3,3 and 6,6,6,6,6 for delta 1 and 2).
 */
async function deltaBurst(context: ProbeContext, open: () => Promise<StunUdpSocket>) {
  const sockets: StunUdpSocket[] = [];
  for (let i = 0; i < UDP_DELTA_BURST; i++) sockets.push(await open());
  const probes = await Promise.all(sockets.map((socket, i) => binding(context, `udp-burst-${i + 1}`, socket, context.primary)));
  const ports = probes.flatMap((probe) => (probe.mapped ? [probe.mapped.port] : []));
  return { observations: probes.map((probe) => probe.observation), ports };
}

function hasMapped<T extends { mapped: TransportAddress | undefined }>(sample: T): sample is T & { mapped: TransportAddress } {
  return sample.mapped !== undefined;
}

interface FilteringTrackInput {
  b: StunUdpSocket;
  b1: BindingTest;
  other: TransportAddress | undefined;
}

/** Filtering tests II and III at once from socket B: silence is the answer, so running them in parallel halves the wait. */
async function filteringTrack(context: ProbeContext, { b, b1, other }: FilteringTrackInput) {
  if (!other || !b1.mapped) {
    return { filtering: 'unknown' as const, observations: [], notes: ['filtering: not measured'] };
  }
  const targets = serverCombinations(context.primary, other);
  const [both, port] = await Promise.all([
    binding(context, 'udp-filtering-2', b, context.primary, { changeIp: true, changePort: true }),
    binding(context, 'udp-filtering-3', b, context.primary, { changePort: true }),
  ]);
  const verdict = classifyFiltering({
    changeBoth: filteringOutcome(both, targets.altBoth),
    changePort: filteringOutcome(port, targets.altPort),
  });
  return { filtering: verdict.value, observations: [both.observation, port.observation], notes: verdict.notes };
}

function filteringOutcome(probe: BindingTest, expectedOrigin: TransportAddress): FilteringOutcome {
  if (probe.observation.outcome === 'no-response') return 'no-response';
  if (!probe.from) return 'error';
  return sameTransportAddress(probe.from, expectedOrigin) ? 'response' : 'wrong-origin';
}

/**
 * RFC 5780 section 4.5: a request from another socket to our mapped address must come back to
 * us through the NAT (supported) or never arrive (unsupported).
 */
async function hairpinTest(context: ProbeContext, target: StunUdpSocket, mapped: TransportAddress, open: () => Promise<StunUdpSocket>) {
  const sender = await open();
  const base = { test: 'udp-hairpin', local: concreteLocal(sender.local(), context.routeLocal), server: mapped };
  const delivery = await awaitDelivery(context, sender, target, bindingRequest(), mapped);
  let value: Hairpinning;
  let observation: ProbeObservation;
  let note: string;
  if (delivery.kind === 'arrived') {
    value = 'supported';
    observation = { ...base, outcome: 'response', responseFrom: delivery.from };
    note = `hairpinning: our request to ${formatAddress(mapped)} came back through the NAT`;
  } else if (delivery.kind === 'silence') {
    value = 'unsupported';
    observation = failedObservation(context, base, delivery.error);
    note = `hairpinning: our request to our own mapped address never arrived within ${context.timeoutMs} ms`;
  } else {
    value = 'unknown';
    observation = failedObservation(context, base, delivery.error);
    note = 'hairpinning: the test could not run to a conclusion';
  }
  context.onStep(stepOf('udp', observation, context.startedAt));
  return { value, observation, note };
}

function blockedProfile(silent: boolean, socket: StunUdpSocket, context: ProbeContext, observations: ProbeObservation[], notes: string[]): UdpProfile {
  return {
    local: concreteLocal(socket.local(), context.routeLocal),
    mapped: null,
    natPresent: 'unknown',
    mapping: 'unknown',
    filtering: 'unknown',
    hairpinning: 'unknown',
    portPreserving: 'unknown',
    rfc3489Type: silent ? 'udp-blocked' : 'unknown',
    evidence: { observations, notes },
  };
}
