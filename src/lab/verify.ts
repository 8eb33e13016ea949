import { classifyFiltering, classifyMapping, compare, expectedThrough, shortDependence, type ExpectedBehaviour, type ObservedEndpoint } from './classify.js';
import type { Lab } from './lab.js';
import { ProbeAgent, type ConnectOutcome, type Endpoint } from './probe.js';
import type { PlannedSite, SiteOptions } from './topology.js';

/**
 * `ntcp lab verify` and test/lab/verify.test.ts: probes every site of a lab with the lab's own
 * echo services (server's two addresses x two ports, UDP and TCP) and checks the observed NAT
 * behaviour against the configured one, plus same-NAT reachability, hairpinning, double NAT and
 * the answer to unsolicited SYNs.
 */

export interface VerifyRow {
  /** What was checked: e.g. 'a1 udp', 'a hairpin', 'a same-nat', 'b unsolicited-syn'. */
  subject: string;
  expected: string;
  observed: string;
  ok: boolean;
  problems: string[];
}

/** One site per behaviour: what `ntcp lab verify` builds when no lab is up, and what the test checks. */
export const VERIFY_SITES: readonly SiteOptions[] = [
  { name: 'full', nat: 'full-cone', hosts: 2 },
  { name: 'rest', nat: 'restricted-cone' },
  { name: 'port', nat: 'port-restricted', hosts: 2 },
  { name: 'sym', nat: 'symmetric' },
  { name: 'seq', nat: 'symmetric-seq:2' },
  { name: 'rst', nat: { preset: 'port-restricted', hairpin: false, inboundSyn: 'rst' }, hosts: 2 },
  { name: 'hash', nat: { mapping: 'endpoint-independent', portAllocation: 'hash', filtering: 'endpoint-independent' } },
  { name: 'adm', nat: { mapping: 'address-dependent', filtering: 'address-dependent' } },
  { name: 'cgn', nat: 'symmetric-seq:3' },
  { name: 'home', nat: 'full-cone', behind: 'cgn' },
  { name: 'pub', nat: 'none' },
  { name: 'fw', nat: 'port-restricted', firewall: { udp: 'block' } },
];

/** The echo ports on both server addresses; chosen away from STUN's 3478 so other services can coexist. */
export const ECHO_PORTS = [7101, 7102] as const;
/** Local ports the probes use, one block per site so runs in parallel never share a port. */
const PROBE_PORT_BASE = 41000;
const PROBE_PORTS_PER_SITE = 20;
/** Generous: it only costs time when an answer is really missing, and CI machines are busy. */
const ANSWER_TIMEOUT_MS = 3000;
const WAIT_MS = 400;
/** A port no mapping uses: unsolicited SYNs go there. */
const UNMAPPED_PORT = 9;

interface Context {
  lab: Lab;
  agents: Map<string, ProbeAgent>;
  targets: Endpoint[];
}

function label(expected: ExpectedBehaviour): string {
  if (expected.mapping === 'none') return 'no NAT';
  const ports = expected.portPreserving ? 'pp' : expected.delta !== undefined ? `seq+${expected.delta}` : expected.randomPorts ? 'random' : 'other';
  return `${shortDependence(expected.mapping, 'M')}(${ports})/${shortDependence(expected.filtering, 'F')}`;
}

function observedLabel(mapping: ReturnType<typeof classifyMapping>, filtering: string, public_: string | null): string {
  if (mapping.mapping === 'none') return `no NAT (${filtering === 'none' ? 'open' : filtering})`;
  const deltas = mapping.deltas.length > 0 ? ` d=${mapping.deltas.join(',')}` : '';
  return `${shortDependence(mapping.mapping, 'M')}(${mapping.portPreserving ? 'pp' : 'not pp'}${deltas})/${shortDependence(filtering as never, 'F')} via ${public_ ?? '?'}`;
}

/** The chain of NATs (innermost first) between a site's hosts and the internet. */
function natChain(lab: Lab, site: PlannedSite): PlannedSite[] {
  const chain = [site];
  let upstream = site.upstream;
  while (upstream !== 'internet') {
    const parent = lab.plan.sites.find((s) => s.name === upstream)!;
    chain.push(parent);
    upstream = parent.upstream;
  }
  return chain;
}

async function behaviourRows(ctx: Context, site: PlannedSite, host: string, portBase: number): Promise<VerifyRow[]> {
  const agent = ctx.agents.get(host)!;
  const chain = natChain(ctx.lab, site);
  const expected = expectedThrough(chain.map((s) => s.nat));
  const behindNat = expected.mapping !== 'none';
  const [a1p1, a1p2, a2p1] = ctx.targets as [Endpoint, Endpoint, Endpoint, Endpoint];
  const localAddress = ctx.lab.address(host);
  const publicAddress = ctx.lab.publicAddress(site.name);

  // UDP and TCP run side by side: the NATs keep one port counter per transport.
  const udp = async () => {
    if (chain.some((s) => s.firewall?.udp === 'block')) return blockedUdpRow(ctx, host, portBase);
    const udpMap = await agent.request<MapResult>({ op: 'udp-map', port: portBase, targets: ctx.targets, timeoutMs: ANSWER_TIMEOUT_MS });
    const udpFilter = await agent.request<{ arrived: [boolean, boolean] }>({ op: 'udp-filter', port: portBase + 1, target: a1p1, replyFrom: [a1p2, a2p1], waitMs: WAIT_MS });
    return row(`${host} udp`, expected, classifyMapping(localAddress, udpMap.local, udpMap.observed), classifyFiltering(udpFilter.arrived[0], udpFilter.arrived[1], behindNat), publicAddress);
  };
  const tcp = async () => {
    const tcpMap = await agent.request<MapResult>({ op: 'tcp-map', port: portBase + 2, targets: ctx.targets, timeoutMs: ANSWER_TIMEOUT_MS });
    const tcpFilter = await agent.request<{ results?: Array<{ accepted: boolean; outcome: string }> }>({ op: 'tcp-filter', port: portBase + 3, target: a1p1, connectBackFrom: [a1p1.address, a2p1.address], waitMs: WAIT_MS });
    // The server's connect succeeds only if the NAT let the SYN through to the host's listener.
    const reached = (result?: { accepted: boolean; outcome: string }) => !!result && (result.accepted || result.outcome === 'connected');
    const [otherPort, otherAddress] = tcpFilter.results ?? [];
    return row(`${host} tcp`, expected, classifyMapping(localAddress, tcpMap.local, tcpMap.observed), classifyFiltering(reached(otherPort), reached(otherAddress), behindNat), publicAddress);
  };
  return Promise.all([udp(), tcp()]);
}

/** Behind a UDP-blocking firewall nothing comes back; waiting on one destination says so. */
async function blockedUdpRow(ctx: Context, host: string, portBase: number): Promise<VerifyRow> {
  const [target] = ctx.targets as [Endpoint];
  const { observed } = await ctx.agents.get(host)!.request<MapResult>({ op: 'udp-map', port: portBase, targets: [target], timeoutMs: WAIT_MS * 2 });
  const answered = observed[0] ?? null;
  const ok = answered === null;
  const words = answered ? `answered via ${answered.address}:${answered.port}` : 'blocked';
  return { subject: `${host} udp`, expected: 'blocked', observed: words, ok, problems: ok ? [] : [`${words}, expected blocked`] };
}

interface MapResult {
  local: number;
  observed: Array<ObservedEndpoint | null>;
}

function row(subject: string, expected: ExpectedBehaviour, mapping: ReturnType<typeof classifyMapping>, filtering: ReturnType<typeof classifyFiltering>, publicAddress: string): VerifyRow {
  const problems = compare(expected, { mapping, filtering });
  if (expected.mapping !== 'none' && mapping.publicAddress !== publicAddress) problems.push(`public address ${mapping.publicAddress}, expected ${publicAddress}`);
  return { subject, expected: label(expected), observed: observedLabel(mapping, filtering, mapping.publicAddress), ok: problems.length === 0, problems };
}

/** Two hosts behind one NAT: same public address, and each reaches the other's private address. */
async function sameNatRow(ctx: Context, site: PlannedSite, portBase: number): Promise<VerifyRow> {
  const [first, second] = site.hosts as [string, string];
  const [target] = ctx.targets as [Endpoint];
  const seen = await Promise.all([first, second].map((host, i) => ctx.agents.get(host)!.request<{ observed: Array<ObservedEndpoint | null> }>({ op: 'udp-map', port: portBase + 4 + i, targets: [target], timeoutMs: ANSWER_TIMEOUT_MS })));
  const publics = seen.map((s) => s.observed[0]?.address ?? null);
  const received = await deliver(ctx, first, second, { address: ctx.lab.address(second), port: portBase + 6 }, portBase + 7);
  const problems: string[] = [];
  if (publics[0] !== publics[1] || publics[0] === null) problems.push(`public addresses differ: ${publics.join(' vs ')}`);
  if (received?.address !== ctx.lab.address(first)) problems.push(`private path: ${received ? `from ${received.address}` : 'nothing arrived'}`);
  return {
    subject: `${site.name} same-nat`,
    expected: `one public address, private path ok`,
    observed: `${publics.join(' / ')}, private path ${received ? 'ok' : 'broken'}`,
    ok: problems.length === 0,
    problems,
  };
}

/** Hairpinning: a host reaches its neighbour through the neighbour's public mapping, over UDP and TCP. */
async function hairpinRows(ctx: Context, site: PlannedSite, portBase: number): Promise<VerifyRow[]> {
  const [first, second] = site.hosts as [string, string];
  const [target] = ctx.targets as [Endpoint];
  const hairpin = site.nat?.hairpin ?? false;
  const expected = hairpin ? `arrives from ${ctx.lab.publicAddress(site.name)}` : 'nothing arrives';
  const result = (transport: string, mapped: ObservedEndpoint | null | undefined, received: () => Promise<ObservedEndpoint | null>) => async (): Promise<VerifyRow> => {
    const subject = `${site.name} ${transport} hairpin ${hairpin ? 'on' : 'off'}`;
    if (!mapped) return { subject, expected, observed: 'no mapping', ok: false, problems: ['no mapping'] };
    const from = await received();
    const observed = from ? `arrives from ${from.address}` : 'nothing arrives';
    const ok = observed === expected;
    return { subject, expected, observed, ok, problems: ok ? [] : [`${observed}, expected ${expected}`] };
  };

  const udpPort = portBase + 8;
  const udpMapped = await ctx.agents.get(second)!.request<MapResult>({ op: 'udp-map', port: udpPort, targets: [target], timeoutMs: ANSWER_TIMEOUT_MS });
  const udp = await result('udp', udpMapped.observed[0], () => deliver(ctx, first, second, udpMapped.observed[0]!, portBase + 9, udpPort))();

  const tcpPort = portBase + 10;
  const tcpMapped = await ctx.agents.get(second)!.request<MapResult>({ op: 'tcp-map', port: tcpPort, targets: [target], timeoutMs: ANSWER_TIMEOUT_MS });
  const tcp = await result('tcp', tcpMapped.observed[0], async () => {
    let attempt: Promise<unknown> = Promise.resolve();
    const heard = await ctx.agents.get(second)!.request<{ accepted: ObservedEndpoint[] }>({ op: 'tcp-listen', port: tcpPort, waitMs: WAIT_MS * 2 }, (event) => {
      if (event.listening) attempt = ctx.agents.get(first)!.request({ op: 'tcp-connect', target: tcpMapped.observed[0]!, port: portBase + 11, timeoutMs: WAIT_MS });
    });
    await attempt;
    return heard.accepted[0] ?? null;
  })();
  return [udp, tcp];
}

/** `from` sends datagrams to `to`; `listener` listens on `listenPort`; returns the source seen. */
async function deliver(ctx: Context, from: string, listener: string, to: Endpoint, sendPort: number, listenPort = to.port): Promise<ObservedEndpoint | null> {
  let sent: Promise<unknown> = Promise.resolve();
  const heard = await ctx.agents.get(listener)!.request<{ received: Array<{ from: ObservedEndpoint }> }>({ op: 'udp-listen', port: listenPort, waitMs: WAIT_MS }, (event) => {
    if (event.listening) sent = ctx.agents.get(from)!.request({ op: 'udp-send', port: sendPort, target: to, count: 3 });
  });
  await sent;
  return heard.received[0]?.from ?? null;
}

/** An unsolicited SYN to the router's public address: dropped (timeout) or answered with RST. */
async function unsolicitedSynRow(ctx: Context, site: PlannedSite): Promise<VerifyRow> {
  const expected: ConnectOutcome = site.nat?.inboundSyn === 'rst' ? 'refused' : 'timeout';
  const { outcome } = await ctx.agents.get('server')!.request<{ outcome: ConnectOutcome }>({ op: 'tcp-connect', target: { address: site.wanAddress!, port: UNMAPPED_PORT }, timeoutMs: WAIT_MS * 2 });
  const words = { refused: 'RST', timeout: 'dropped', connected: 'connected', error: 'error' } as const;
  const ok = outcome === expected;
  return { subject: `${site.name} unsolicited-syn`, expected: words[expected], observed: words[outcome], ok, problems: ok ? [] : [`${words[outcome]}, expected ${words[expected]}`] };
}

/** Runs every check the lab's sites allow; rows come back in site order. */
export async function verifyLab(lab: Lab): Promise<VerifyRow[]> {
  const [s1, s2] = lab.serverAddresses;
  const [p1, p2] = ECHO_PORTS;
  const targets = [{ address: s1, port: p1 }, { address: s1, port: p2 }, { address: s2, port: p1 }, { address: s2, port: p2 }];
  const sites = lab.plan.sites.filter((site) => site.hosts.length > 0 || site.nat);
  const hosts = ['server', ...new Set(sites.flatMap((site) => site.hosts.slice(0, 2)))];
  const agents = new Map<string, ProbeAgent>();
  try {
    await Promise.all(hosts.map(async (host) => agents.set(host, await ProbeAgent.start(lab, host))));
    await agents.get('server')!.request({ op: 'serve', endpoints: targets });
    const ctx: Context = { lab, agents, targets };
    const perSite = await Promise.all(
      sites.map(async (site, index) => {
        const portBase = PROBE_PORT_BASE + index * PROBE_PORTS_PER_SITE;
        // An inbound SYN creates no mapping, so it can run alongside the probes that count ports.
        const syn = site.nat && site.upstream === 'internet' ? unsolicitedSynRow(ctx, site) : undefined;
        const rows: VerifyRow[] = [];
        const [first] = site.hosts;
        if (first) rows.push(...(await behaviourRows(ctx, site, first, portBase)));
        if (site.nat && site.hosts.length >= 2) {
          rows.push(await sameNatRow(ctx, site, portBase));
          rows.push(...(await hairpinRows(ctx, site, portBase)));
        }
        if (syn) rows.push(await syn);
        return rows;
      }),
    );
    return perSite.flat();
  } finally {
    await Promise.all([...agents.values()].map((agent) => agent.close()));
  }
}

/** A plain-text table of the rows. */
export function formatVerifyTable(rows: readonly VerifyRow[]): string {
  const header = ['check', 'expected', 'observed', 'result'];
  const body = rows.map((r) => [r.subject, r.expected, r.observed, r.ok ? 'ok' : `FAIL: ${r.problems.join('; ')}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}
