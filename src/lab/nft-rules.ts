import type { NatBehaviour } from './nat.js';

/**
 * Renders one router's nftables ruleset (for `nft -f`) from its NAT behaviour.
 *
 * Mapping: the kernel's own SNAT does the translation; the behaviour only chooses the port.
 * - EIM, port preserving: plain `snat to WAN` (Linux keeps the source port when it is free);
 * - EIM, not preserving / ADM: a seeded jhash of (internal endpoint [, destination address]),
 *   so the same key always gets the same port;
 * - APDM random: `fully-random`; APDM sequential: `numgen inc` through an explicit port map,
 *   one counter per transport, which gives exact deltas.
 * Filtering: conntrack alone is address-and-port-dependent. For EIF and ADF, every packet that
 * leaves the WAN records `mapped port -> internal endpoint` (and for ADF `mapped port . remote
 * address`) in dynamic maps; unsolicited inbound packets that match are DNATed through them.
 * Hairpinning DNATs LAN packets sent to the WAN address through the same map and SNATs them
 * with the sender's mapping, so the receiver sees the sender's public endpoint.
 */

export interface RouterRules {
  nat: NatBehaviour;
  wanAddress: string;
  /** LAN prefix, e.g. '10.1.0' (a /24). */
  lanPrefix: string;
  /** Seed for the hash-based port choice; differs per router so two routers differ. */
  seed: number;
  /** Drop all forwarded UDP (a firewall in front of the NAT). @default false */
  blockUdp?: boolean;
}

export const WAN_IF = 'wan';
export const LAN_IF = 'lan';
/** Ports chosen by the NAT (hash, sequential) fall in [PORT_BASE, PORT_BASE + PORT_SPAN). */
export const PORT_BASE = 20000;
export const PORT_SPAN = 40000;
/** Entries in a sequential NAT's explicit port map (the counter wraps after these). */
const MAX_SEQUENTIAL_ENTRIES = 1024;
export const TABLE_NAME = 'ntcp_lab';

const TRANSPORTS = ['udp', 'tcp'] as const;
type Transport = (typeof TRANSPORTS)[number];

/** Sequential ports: PORT_BASE, PORT_BASE + delta, ... as long as they stay below 65536. */
export function sequentialPorts(delta: number): number[] {
  const count = Math.min(MAX_SEQUENTIAL_ENTRIES, Math.floor((PORT_SPAN - 1) / delta) + 1);
  return Array.from({ length: count }, (_, i) => PORT_BASE + i * delta);
}

/** The `:port` part of the snat statement for one transport. */
function portChoice(rules: RouterRules, transport: Transport): string {
  const { nat, seed } = rules;
  const hash = (key: string) => `:jhash ${key} mod ${PORT_SPAN} seed 0x${seed.toString(16)} offset ${PORT_BASE}`;
  switch (nat.portAllocation) {
    case 'preserve':
      return '';
    case 'hash':
      return nat.mapping === 'address-dependent'
        ? hash(`ip saddr . ${transport} sport . ip daddr`)
        : hash(`ip saddr . ${transport} sport`);
    case 'random':
      return `:${PORT_BASE}-${PORT_BASE + PORT_SPAN - 1} fully-random`;
    case 'sequential': {
      const ports = sequentialPorts(nat.delta);
      return `:numgen inc mod ${ports.length} map { ${ports.map((port, i) => `${i} : ${port}`).join(', ')} }`;
    }
  }
}

export function renderRouterRules(rules: RouterRules): string {
  const { nat, wanAddress, lanPrefix } = rules;
  const lan = `${lanPrefix}.0/24`;
  const timeout = { udp: nat.udpTimeoutS, tcp: nat.tcpTimeoutS };
  const eif = nat.filtering === 'endpoint-independent';
  const adf = nat.filtering === 'address-dependent';
  const lines: string[] = [`table ip ${TABLE_NAME} {`];

  for (const t of TRANSPORTS) {
    lines.push(`  map mapped_${t} { type inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout ${timeout[t]}s; }`);
    if (adf) lines.push(`  set peers_${t} { type inet_service . ipv4_addr; flags dynamic,timeout; timeout ${timeout[t]}s; }`);
  }

  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;');
  for (const t of TRANSPORTS) {
    const toMapped = `dnat ip to ${t} dport map @mapped_${t}`;
    if (eif) lines.push(`    iifname "${WAN_IF}" ip daddr ${wanAddress} meta l4proto ${t} ${toMapped}`);
    if (adf) lines.push(`    iifname "${WAN_IF}" ip daddr ${wanAddress} ${t} dport . ip saddr @peers_${t} ${toMapped}`);
    if (nat.hairpin) lines.push(`    iifname "${LAN_IF}" ip daddr ${wanAddress} meta l4proto ${t} ${toMapped}`);
  }
  lines.push('  }');

  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  for (const t of TRANSPORTS) {
    lines.push(`    oifname "${WAN_IF}" meta l4proto ${t} snat ip to ${wanAddress}${portChoice(rules, t)}`);
    if (nat.hairpin) {
      lines.push(`    oifname "${LAN_IF}" ip saddr ${lan} ct status dnat meta l4proto ${t} snat ip to ${wanAddress}${portChoice(rules, t)}`);
    }
  }
  lines.push(`    oifname "${WAN_IF}" snat ip to ${wanAddress}`, '  }');

  // Runs after SNAT rewrote the packet, so `sport` is the mapped port.
  lines.push('  chain record {', '    type filter hook postrouting priority srcnat + 10; policy accept;');
  for (const t of TRANSPORTS) {
    lines.push(`    oifname "${WAN_IF}" ct direction original update @mapped_${t} { ${t} sport : ct original ip saddr . ct original proto-src }`);
    lines.push(`    oifname "${WAN_IF}" ct direction reply update @mapped_${t} { ${t} sport : ct reply ip saddr . ct reply proto-src }`);
    if (adf) lines.push(`    oifname "${WAN_IF}" update @peers_${t} { ${t} sport . ip daddr }`);
  }
  lines.push('  }');

  const unsolicitedSyn = nat.inboundSyn === 'rst' ? 'reject with tcp reset' : 'drop';
  lines.push(
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    '    ct state established,related accept',
    `    iifname "${WAN_IF}" icmp type echo-request accept`,
    `    iifname "${WAN_IF}" tcp flags & (syn | ack) == syn ${unsolicitedSyn}`,
    `    iifname "${WAN_IF}" drop`,
  );
  if (!nat.hairpin) lines.push(`    iifname "${LAN_IF}" ip daddr ${wanAddress} meta l4proto { udp, tcp } drop`);
  lines.push('  }');

  lines.push(
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    // Ahead of the conntrack accept: with UDP blocked, no flow may get through either way.
    ...(rules.blockUdp === true ? ['    meta l4proto udp drop'] : []),
    '    ct state established,related accept',
    '    ct status dnat accept',
    `    iifname "${WAN_IF}" drop`,
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

/** Per-namespace sysctls of a router: forwarding, conntrack timeouts, no netfilter on bridged frames. */
export function routerSysctls(nat: NatBehaviour): Record<string, number> {
  return {
    'net/ipv4/ip_forward': 1,
    'net/bridge/bridge-nf-call-iptables': 0,
    'net/netfilter/nf_conntrack_udp_timeout': nat.udpTimeoutS,
    'net/netfilter/nf_conntrack_udp_timeout_stream': nat.udpTimeoutS,
    'net/netfilter/nf_conntrack_tcp_timeout_established': nat.tcpTimeoutS,
  };
}
