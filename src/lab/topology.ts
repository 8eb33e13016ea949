import { InvalidArgumentError } from '../errors.js';
import { resolveNat, type NatBehaviour, type NatSpec } from './nat.js';

/**
 * Turns lab options into a plan: every namespace, link, address and route, as plain data.
 * No I/O here, so the addressing rules are unit-tested without root.
 *
 * Addressing (documentation ranges only on the "internet"):
 * - internet 203.0.113.0/24, a bridge in namespace `<prefix>-inet`;
 *   server 203.0.113.1 and 203.0.113.2, NAT routers from .10, hosts without NAT from .100;
 * - site number i (1-based, in option order) has the LAN 10.i.0.0/24 (100.64.i.0/24, the
 *   RFC 6598 shared space, when other sites sit behind it: a carrier-grade NAT); its router is
 *   .1 there, its hosts .10, .11, ..., routers of sites behind it and hosts without NAT from .100.
 */

/** Shape of the link that joins a site to its upstream network. */
export interface LinkShape {
  /** Round-trip time the link adds: half on the way up, half on the way down. @default 0 */
  delayMs: number;
  /** Each packet's one-way delay varies uniformly by up to +-jitterMs/2 (never reordering). @default 0 */
  jitterMs: number;
  /** Share of packets dropped, each direction, in percent. @default 0 */
  lossPercent: number;
}

/** A stateless filter on the site's router, in front of its NAT (issue 4: "a firewall that blocks UDP"). */
export interface SiteFirewall {
  /** 'block' drops every UDP packet the router would forward, both ways. @default 'allow' */
  udp?: 'allow' | 'block';
}

export interface SiteOptions {
  /** Lower-case letters, at most 8 ('a', 'home', 'cgn'); hosts are named `<name>1`, `<name>2`, ... */
  name: string;
  /** @default 'port-restricted' */
  nat?: NatSpec;
  /** Hosts on the site's LAN. @default 1 (0 for a site that other sites sit behind) */
  hosts?: number;
  /** Name of an earlier site whose LAN this site's router plugs into (NAT behind NAT). @default the internet */
  behind?: string;
  /** Filtering on the site's router; needs a NAT (the router carries the rules). @default no filtering */
  firewall?: SiteFirewall;
  /** Overrides the lab-wide link shape for this site's upstream link. */
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
}

export interface LabTopologyOptions {
  /** @default [{ name: 'a' }, { name: 'b' }] (two port-restricted sites with one host each) */
  sites?: readonly SiteOptions[];
  /** Defaults for every site's upstream link (see LinkShape). @default 0 */
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
}

export const INTERNET_PREFIX = '203.0.113';
export const INTERNET_PREFIX_LENGTH = 24;
export const SERVER_ADDRESSES = [`${INTERNET_PREFIX}.1`, `${INTERNET_PREFIX}.2`] as const;
const FIRST_ROUTER_OCTET = 10;
const FIRST_ATTACHED_OCTET = 100;
const FIRST_HOST_OCTET = 10;
const LAST_OCTET = 250;
const MAX_SITES = 80;
const MAX_HOSTS_PER_SITE = 50;
const SITE_NAME = /^[a-z]{1,8}$/;
const RESERVED_NAMES = new Set(['inet', 'server']);

/** One end of a point-to-point link inside a namespace. */
export interface LinkEnd {
  namespace: string;
  ifname: string;
}

export interface PlannedLink {
  /** The end on the upstream network: a port of that network's bridge. */
  up: LinkEnd & { bridge: string };
  /** The device's end ('wan' of a router, 'eth0' of a host). */
  down: LinkEnd;
  shape: LinkShape;
}

export interface PlannedNetwork {
  namespace: string;
  bridge: string;
  /** e.g. '10.1.0' (all networks are /24). */
  prefix: string;
  /** The router's address on this network, when it has one. */
  gateway?: string;
}

export type HostKind = 'internet' | 'server' | 'router' | 'host';

export interface PlannedHost {
  name: string;
  kind: HostKind;
  namespace: string;
  /** Addresses in the order `lab.address` reports them (the first one is the main one). */
  addresses: string[];
  /** The site this host belongs to (routers: their own site). */
  site?: string;
  /** Default gateway, when the host needs one. */
  gateway?: string;
}

export interface PlannedSite {
  name: string;
  nat: NatBehaviour | null;
  /** Router host name (= site name) when the site has a NAT. */
  router?: string;
  /** The router's address on its upstream network. */
  wanAddress?: string;
  /** The site's LAN when it has a router. */
  lan?: PlannedNetwork;
  /** 'internet' or the name of the site it sits behind. */
  upstream: string;
  hosts: string[];
  shape: LinkShape;
  firewall: Required<SiteFirewall>;
}

export interface LabPlan {
  prefix: string;
  internet: PlannedNetwork;
  hosts: PlannedHost[];
  sites: PlannedSite[];
  links: PlannedLink[];
}

export const DEFAULT_SITES: readonly SiteOptions[] = [{ name: 'a' }, { name: 'b' }];

function checkShape(shape: LinkShape, where: string): LinkShape {
  const limits: Array<[keyof LinkShape, number]> = [['delayMs', 10_000], ['jitterMs', 10_000], ['lossPercent', 100]];
  for (const [key, max] of limits) {
    const value = shape[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      throw new InvalidArgumentError(`${where}: ${key} must be a number in 0..${max}, got ${String(value)}`);
    }
  }
  if (shape.jitterMs > shape.delayMs) {
    throw new InvalidArgumentError(`${where}: jitterMs (${shape.jitterMs}) must not exceed delayMs (${shape.delayMs})`);
  }
  return shape;
}

function checkFirewall(firewall: SiteFirewall | undefined, nat: NatBehaviour | null, where: string): Required<SiteFirewall> {
  const udp = firewall?.udp ?? 'allow';
  if (udp !== 'allow' && udp !== 'block') throw new InvalidArgumentError(`${where}: firewall.udp must be "allow" or "block", got ${JSON.stringify(udp)}`);
  if (udp === 'block' && nat === null) throw new InvalidArgumentError(`${where}: a firewall needs a router, so not NAT preset "none"`);
  return { udp };
}

/** Allocates addresses on one /24 network. */
class NetworkSlots {
  #next: Record<'router' | 'host' | 'attached', number>;

  constructor(readonly network: PlannedNetwork, firstRouter: number) {
    this.#next = { router: firstRouter, host: FIRST_HOST_OCTET, attached: FIRST_ATTACHED_OCTET };
  }

  take(kind: 'router' | 'host' | 'attached'): string {
    const octet = this.#next[kind]++;
    const limit = kind === 'attached' ? LAST_OCTET : FIRST_ATTACHED_OCTET - 1;
    if (octet > limit) throw new InvalidArgumentError(`network ${this.network.prefix}.0/24 has no free ${kind} address left`);
    return `${this.network.prefix}.${octet}`;
  }
}

/** Builds the plan for a lab with the given namespace prefix. */
export function planLab(prefix: string, options: LabTopologyOptions = {}): LabPlan {
  const siteOptions = options.sites ?? DEFAULT_SITES;
  if (siteOptions.length > MAX_SITES) throw new InvalidArgumentError(`at most ${MAX_SITES} sites per lab`);
  const labShape = checkShape(
    { delayMs: options.delayMs ?? 0, jitterMs: options.jitterMs ?? 0, lossPercent: options.lossPercent ?? 0 },
    'lab',
  );
  const ns = (name: string) => `${prefix}-${name}`;
  const internet: PlannedNetwork = { namespace: ns('inet'), bridge: 'br0', prefix: INTERNET_PREFIX };
  const hosts: PlannedHost[] = [
    { name: 'inet', kind: 'internet', namespace: internet.namespace, addresses: [] },
    { name: 'server', kind: 'server', namespace: ns('server'), addresses: [...SERVER_ADDRESSES] },
  ];
  const links: PlannedLink[] = [
    {
      up: { namespace: internet.namespace, ifname: 'srv', bridge: internet.bridge },
      down: { namespace: ns('server'), ifname: 'eth0' },
      shape: { delayMs: 0, jitterMs: 0, lossPercent: 0 },
    },
  ];
  const slots = new Map<string, NetworkSlots>([['internet', new NetworkSlots(internet, FIRST_ROUTER_OCTET)]]);
  const parents = new Set(siteOptions.map((site) => site.behind).filter((name): name is string => !!name));
  const sites: PlannedSite[] = [];

  siteOptions.forEach((site, index) => {
    const where = `site "${site.name}"`;
    if (!SITE_NAME.test(site.name) || RESERVED_NAMES.has(site.name)) {
      throw new InvalidArgumentError(`${where}: a site name is 1-8 lower-case letters, not "inet" or "server"`);
    }
    if (sites.some((other) => other.name === site.name)) throw new InvalidArgumentError(`${where} is defined twice`);
    const upstreamName = site.behind ?? 'internet';
    const upstream = slots.get(upstreamName);
    if (!upstream) {
      throw new InvalidArgumentError(`${where}: behind "${upstreamName}", which is not an earlier site with a NAT`);
    }
    const nat = resolveNat(site.nat ?? 'port-restricted');
    const hostCount = site.hosts ?? (parents.has(site.name) ? 0 : 1);
    if (!Number.isInteger(hostCount) || hostCount < 0 || hostCount > MAX_HOSTS_PER_SITE) {
      throw new InvalidArgumentError(`${where}: hosts must be an integer in 0..${MAX_HOSTS_PER_SITE}`);
    }
    const shape = checkShape(
      {
        delayMs: site.delayMs ?? labShape.delayMs,
        jitterMs: site.jitterMs ?? labShape.jitterMs,
        lossPercent: site.lossPercent ?? labShape.lossPercent,
      },
      where,
    );
    const firewall = checkFirewall(site.firewall, nat, where);
    const up = upstream.network;
    const hostNames = Array.from({ length: hostCount }, (_, j) => `${site.name}${j + 1}`);
    const planned: PlannedSite = { name: site.name, nat, upstream: upstreamName, hosts: hostNames, shape, firewall };

    if (nat === null) {
      if (parents.has(site.name)) throw new InvalidArgumentError(`${where}: a site without NAT cannot have sites behind it`);
      for (const hostName of hostNames) {
        const address = upstream.take('attached');
        hosts.push({ name: hostName, kind: 'host', namespace: ns(hostName), addresses: [address], site: site.name, ...(up.gateway ? { gateway: up.gateway } : {}) });
        links.push({ up: { namespace: up.namespace, ifname: `h-${hostName}`, bridge: up.bridge }, down: { namespace: ns(hostName), ifname: 'eth0' }, shape });
      }
      sites.push(planned);
      return;
    }

    const octet = index + 1;
    const lan: PlannedNetwork = {
      namespace: ns(site.name),
      bridge: 'lan',
      prefix: parents.has(site.name) ? `100.64.${octet}` : `10.${octet}.0`,
      gateway: parents.has(site.name) ? `100.64.${octet}.1` : `10.${octet}.0.1`,
    };
    const wanAddress = upstream.take(upstreamName === 'internet' ? 'router' : 'attached');
    hosts.push({
      name: site.name,
      kind: 'router',
      namespace: lan.namespace,
      addresses: [wanAddress, lan.gateway!],
      site: site.name,
      ...(up.gateway ? { gateway: up.gateway } : {}),
    });
    links.push({ up: { namespace: up.namespace, ifname: `s-${site.name}`, bridge: up.bridge }, down: { namespace: lan.namespace, ifname: 'wan' }, shape });
    const lanSlots = new NetworkSlots(lan, FIRST_ROUTER_OCTET);
    slots.set(site.name, lanSlots);
    for (const hostName of hostNames) {
      hosts.push({ name: hostName, kind: 'host', namespace: ns(hostName), addresses: [lanSlots.take('host')], site: site.name, gateway: lan.gateway! });
      links.push({
        up: { namespace: lan.namespace, ifname: `h-${hostName}`, bridge: lan.bridge },
        down: { namespace: ns(hostName), ifname: 'eth0' },
        shape: { delayMs: 0, jitterMs: 0, lossPercent: 0 },
      });
    }
    sites.push({ ...planned, router: site.name, wanAddress, lan });
  });

  return { prefix, internet, hosts, sites, links };
}

/** Whether a link needs the userspace delay/loss forwarder instead of a plain veth pair. */
export function isShaped(shape: LinkShape): boolean {
  return shape.delayMs > 0 || shape.jitterMs > 0 || shape.lossPercent > 0;
}
