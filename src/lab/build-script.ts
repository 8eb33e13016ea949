import { isShaped, type LabPlan, type PlannedHost } from './topology.js';
import { renderRouterRules, routerSysctls } from './nft-rules.js';

/**
 * Renders the plan as one bash script: a single `ip -batch` for namespaces and links, one
 * `ip -n NS -batch` per namespace, and per router one `ip netns exec` for sysctls + `nft -f`.
 * Namespace-local work runs in parallel. Shaped links are left out: the delay forwarder creates
 * them as TAP devices, and `shapedLinkScript` configures them afterwards.
 */

export interface BuildScriptOptions {
  /** Seed for hash-based port choices (per router: seed + site index). */
  seed: number;
}

function heredoc(command: string, body: string[]): string {
  return `${command} <<'NTCP_EOF'\n${body.join('\n')}\nNTCP_EOF`;
}

/** Runs each block in the background and fails if any of them failed. */
function parallel(blocks: string[]): string[] {
  if (blocks.length === 0) return [];
  return [
    'pids=()',
    ...blocks.map((block) => `( ${block}\n) & pids+=($!)`),
    'for pid in "${pids[@]}"; do wait "$pid" || failed=1; done',
    '[ -z "${failed:-}" ] || exit 1',
  ];
}

/** Loopback and the bridges (with the router's LAN address) that live in a namespace. */
function namespaceBase(plan: LabPlan, namespace: string): string[] {
  const lines = ['link set lo up'];
  const networks = [plan.internet, ...plan.sites.flatMap((site) => (site.lan ? [site.lan] : []))];
  for (const network of networks.filter((n) => n.namespace === namespace)) {
    lines.push(`link add ${network.bridge} type bridge`, `link set ${network.bridge} up`);
    if (network.gateway) lines.push(`address add ${network.gateway}/24 dev ${network.bridge}`);
  }
  return lines;
}

/** Link ends in a namespace: bridge ports, device addresses, and the default route after them. */
function linkCommands(plan: LabPlan, namespace: string, shaped: boolean): string[] {
  const lines: string[] = [];
  const host = hostByNamespace(plan, namespace);
  for (const link of plan.links) {
    if (isShaped(link.shape) !== shaped) continue;
    if (link.up.namespace === namespace) lines.push(`link set ${link.up.ifname} master ${link.up.bridge} up`);
    if (link.down.namespace === namespace) {
      const addresses = host.kind === 'router' ? host.addresses.slice(0, 1) : host.addresses;
      for (const address of addresses) lines.push(`address add ${address}/24 dev ${link.down.ifname}`);
      lines.push(`link set ${link.down.ifname} up`);
      if (host.gateway) lines.push(`route add default via ${host.gateway}`);
    }
  }
  return lines;
}

function hostByNamespace(plan: LabPlan, namespace: string): PlannedHost {
  const host = plan.hosts.find((h) => h.namespace === namespace);
  if (!host) throw new Error(`plan has no host in namespace ${namespace}`);
  return host;
}

/**
 * Explicit, distinct interface indexes for the two ends of each veth. The kernel handles a
 * carrier change at once only for a device whose peer has another index; fresh namespaces
 * number from 2 on both sides, so without this the change waits for the rate-limited link
 * watcher (up to 1 s machine-wide) and the lab is slow to become usable.
 */
const FIRST_VETH_INDEX = 1000;

/** Longest wait for the kernel to activate the lab's devices. */
const READY_TIMEOUT_S = 5;

/**
 * Waits until every link has its carrier and every bridge port forwards. The kernel's link
 * watcher turns a veth's carrier on asynchronously, rate limited machine-wide (up to 1 s when
 * many namespaces come up at once); until then the first packets of a fresh lab (its first ARP
 * requests) vanish. Every link has one end on a bridge, so the bridges' port lists tell all.
 */
function waitUntilActive(plan: LabPlan): string[] {
  const bridged = [plan.internet, ...plan.sites.flatMap((site) => (site.lan ? [site.lan] : []))].map((network) => network.namespace);
  return [
    `deadline=$((SECONDS + ${READY_TIMEOUT_S}))`,
    `while for ns in ${bridged.join(' ')}; do bridge -n "$ns" link show; done | grep -qE 'NO-CARRIER|state (disabled|blocking|listening|learning)'; do`,
    `  if [ "$SECONDS" -ge "$deadline" ]; then echo 'lab links still down after ${READY_TIMEOUT_S} s' >&2; exit 1; fi`,
    '  sleep 0.01',
    'done',
  ];
}

export function buildScript(plan: LabPlan, options: BuildScriptOptions): string {
  const namespaces = plan.hosts.map((host) => host.namespace);
  const rootBatch = [
    ...namespaces.map((ns) => `netns add ${ns}`),
    ...plan.links
      .filter((link) => !isShaped(link.shape))
      .map((link, k) => {
        const [upIndex, downIndex] = [FIRST_VETH_INDEX + 2 * k, FIRST_VETH_INDEX + 2 * k + 1];
        return `link add name ${link.up.ifname} index ${upIndex} netns ${link.up.namespace} type veth peer name ${link.down.ifname} index ${downIndex} netns ${link.down.namespace}`;
      }),
  ];
  const perNamespace = namespaces.map((ns) => heredoc(`ip -n ${ns} -batch -`, [...namespaceBase(plan, ns), ...linkCommands(plan, ns, false)]));
  const routers = plan.sites.flatMap((site, index) => {
    if (!site.nat || !site.lan || !site.wanAddress) return [];
    const sysctls = Object.entries(routerSysctls(site.nat)).map(([key, value]) => `echo ${value} > /proc/sys/${key}`);
    const rules = renderRouterRules({
      nat: site.nat, wanAddress: site.wanAddress, lanPrefix: site.lan.prefix, seed: (options.seed + index) >>> 0, blockUdp: site.firewall.udp === 'block',
    });
    return [heredoc(`ip netns exec ${site.lan.namespace} sh -ec '${sysctls.join('; ')}; nft -f -'`, rules.trimEnd().split('\n'))];
  });
  return [
    'set -euo pipefail',
    heredoc('ip -batch -', rootBatch),
    ...parallel([...perNamespace, ...routers]),
    ...(plan.links.some((link) => isShaped(link.shape)) ? [] : waitUntilActive(plan)),
  ].join('\n') + '\n';
}

/** Configures the TAP ends of shaped links once the forwarder has created them. */
export function shapedLinkScript(plan: LabPlan): string {
  const shaped = plan.links.filter((link) => isShaped(link.shape));
  const namespaces = [...new Set(shaped.flatMap((link) => [link.up.namespace, link.down.namespace]))];
  const blocks = namespaces.map((ns) => heredoc(`ip -n ${ns} -batch -`, linkCommands(plan, ns, true)));
  return ['set -euo pipefail', ...parallel(blocks), ...waitUntilActive(plan)].join('\n') + '\n';
}

/** Deletes the namespaces (links and rules go with them); keeps going past missing ones. */
export function teardownBatch(namespaces: readonly string[]): string {
  return namespaces.map((ns) => `netns del ${ns}`).join('\n') + '\n';
}
