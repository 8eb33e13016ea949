import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../../src/errors.js';
import { describeNat, presetBehaviour, resolveNat } from '../../src/lab/nat.js';
import { PORT_BASE, renderRouterRules, sequentialPorts } from '../../src/lab/nft-rules.js';
import { planLab } from '../../src/lab/topology.js';
import { buildScript } from '../../src/lab/build-script.js';

test('presets resolve to their RFC 4787 behaviours', () => {
  assert.equal(describeNat(resolveNat('full-cone')), 'EIM(pp)/EIF');
  assert.equal(describeNat(resolveNat('restricted-cone')), 'EIM(pp)/ADF');
  assert.equal(describeNat(resolveNat('port-restricted')), 'EIM(pp)/APDF');
  assert.equal(describeNat(resolveNat('symmetric')), 'APDM(random)/APDF');
  assert.equal(describeNat(resolveNat('symmetric-seq:7')), 'APDM(seq+7)/APDF');
  assert.equal(resolveNat('none'), null);
});

test('fine-grained options refine a preset without touching the caller object', () => {
  const spec = { preset: 'full-cone' as const, inboundSyn: 'rst' as const, hairpin: false, udpTimeoutS: 5 };
  const nat = resolveNat(spec)!;
  assert.equal(nat.filtering, 'endpoint-independent');
  assert.equal(nat.inboundSyn, 'rst');
  assert.equal(nat.hairpin, false);
  assert.equal(nat.udpTimeoutS, 5);
  assert.deepEqual(spec, { preset: 'full-cone', inboundSyn: 'rst', hairpin: false, udpTimeoutS: 5 });
  assert.equal(resolveNat({ mapping: 'address-dependent' })!.portAllocation, 'hash');
});

test('impossible behaviours and unknown presets are typed errors', () => {
  assert.throws(() => presetBehaviour('symmetric-seq:0' as never), InvalidArgumentError);
  assert.throws(() => resolveNat('cone' as never), InvalidArgumentError);
  assert.throws(() => resolveNat({ mapping: 'endpoint-independent', portAllocation: 'sequential' }), /does not fit/);
  assert.throws(() => resolveNat({ udpTimeoutS: 0 }), /udpTimeoutS/);
  assert.throws(() => resolveNat({ preset: 'none', hairpin: true }), /takes no behaviour/);
});

test('sequential ports are exactly delta apart and stay in range', () => {
  const ports = sequentialPorts(1000);
  assert.equal(ports[0], PORT_BASE);
  assert.ok(ports.every((port, i) => i === 0 || port - ports[i - 1]! === 1000));
  assert.ok(ports.at(-1)! <= 65535);
});

test('the plan names hosts after sites and keeps the internet on documentation addresses', () => {
  const plan = planLab('ntltest1', {
    sites: [{ name: 'a', hosts: 2 }, { name: 'cgn', nat: 'symmetric' }, { name: 'home', behind: 'cgn' }, { name: 'pub', nat: 'none' }],
  });
  const byName = new Map(plan.hosts.map((host) => [host.name, host]));
  assert.deepEqual([...byName.keys()], ['inet', 'server', 'a', 'a1', 'a2', 'cgn', 'home', 'home1', 'pub1']);
  assert.deepEqual(byName.get('server')!.addresses, ['203.0.113.1', '203.0.113.2']);
  assert.deepEqual(byName.get('a')!.addresses, ['203.0.113.10', '10.1.0.1']);
  assert.deepEqual(byName.get('a2')!.addresses, ['10.1.0.11']);
  assert.equal(byName.get('home')!.addresses[0], '100.64.2.100', 'a router behind a CGN sits on the shared address space');
  assert.equal(byName.get('home')!.gateway, '100.64.2.1');
  assert.equal(byName.get('pub1')!.addresses[0], '203.0.113.100');
  for (const host of plan.hosts) assert.ok(host.namespace.startsWith('ntltest1-'));
  for (const link of plan.links) assert.ok(link.up.ifname.length <= 15 && link.down.ifname.length <= 15);
  const upstreamAddresses = plan.hosts.filter((h) => h.kind === 'router' && h.site !== 'home').map((h) => h.addresses[0]!);
  assert.ok(upstreamAddresses.every((address) => address.startsWith('203.0.113.')));
});

test('bad topologies are typed errors', () => {
  assert.throws(() => planLab('p', { sites: [{ name: 'A1' }] }), InvalidArgumentError);
  assert.throws(() => planLab('p', { sites: [{ name: 'server' }] }), InvalidArgumentError);
  assert.throws(() => planLab('p', { sites: [{ name: 'a' }, { name: 'a' }] }), /twice/);
  assert.throws(() => planLab('p', { sites: [{ name: 'b', behind: 'a' }, { name: 'a' }] }), /earlier site/);
  assert.throws(() => planLab('p', { sites: [{ name: 'a', delayMs: 10, jitterMs: 20 }] }), /jitterMs/);
  assert.throws(() => planLab('p', { sites: [{ name: 'a', lossPercent: 101 }] }), /lossPercent/);
});

test('router rules match the configured filtering, hairpin and SYN answer', () => {
  const rules = (spec: Parameters<typeof resolveNat>[0]) =>
    renderRouterRules({ nat: resolveNat(spec)!, wanAddress: '203.0.113.10', lanPrefix: '10.1.0', seed: 1 });
  assert.match(rules('full-cone'), /iifname "wan" ip daddr 203\.0\.113\.10 meta l4proto udp dnat ip to udp dport map @mapped_udp/);
  assert.doesNotMatch(rules('port-restricted'), /iifname "wan" .*dnat/);
  assert.match(rules('restricted-cone'), /udp dport \. ip saddr @peers_udp dnat/);
  assert.match(rules({ preset: 'port-restricted', inboundSyn: 'rst' }), /reject with tcp reset/);
  assert.doesNotMatch(rules('port-restricted'), /reject/);
  assert.match(rules({ preset: 'port-restricted', hairpin: false }), /iifname "lan" ip daddr 203\.0\.113\.10 meta l4proto \{ udp, tcp \} drop/);
  assert.match(rules('symmetric-seq:3'), /numgen inc mod \d+ map \{ 0 : 20000, 1 : 20003,/);
  assert.match(rules('symmetric'), /fully-random/);
});

test('the build script is one root batch plus per-namespace batches', () => {
  const script = buildScript(planLab('ntltest2'), { seed: 7 });
  assert.equal(script.match(/^ip -batch -/gm)?.length, 1);
  assert.equal(script.match(/ip -n ntltest2-\S+ -batch -/g)?.length, 6);
  assert.equal(script.match(/nft -f -/g)?.length, 2);
});

test('a UDP-blocking firewall drops forwarded UDP ahead of conntrack, and needs a router', () => {
  const plan = planLab('ntltest3', { sites: [{ name: 'fw', firewall: { udp: 'block' } }, { name: 'open' }] });
  assert.deepEqual(plan.sites.map((site) => site.firewall.udp), ['block', 'allow']);
  const script = buildScript(plan, { seed: 1 });
  assert.equal(script.match(/meta l4proto udp drop/g)?.length, 1, 'one rule, in the blocked router only');
  const rules = renderRouterRules({ nat: resolveNat('port-restricted')!, wanAddress: '203.0.113.10', lanPrefix: '10.1.0', seed: 1, blockUdp: true });
  const forward = rules.slice(rules.indexOf('chain forward'));
  assert.ok(forward.indexOf('meta l4proto udp drop') < forward.indexOf('ct state established,related accept'), forward);
  assert.doesNotMatch(renderRouterRules({ nat: resolveNat('port-restricted')!, wanAddress: '203.0.113.10', lanPrefix: '10.1.0', seed: 1 }), /udp drop/);
  assert.throws(() => planLab('ntltest3', { sites: [{ name: 'pub', nat: 'none', firewall: { udp: 'block' } }] }), /needs a router/);
  assert.throws(() => planLab('ntltest3', { sites: [{ name: 'fw', firewall: { udp: 'deny' as never } }] }), InvalidArgumentError);
});
