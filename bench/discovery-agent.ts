// Runs inside a lab host for `npm run bench:discovery`: times a plain UDP Binding (the reference)
// and full NAT profiles against the lab's STUN server, prints one JSON line.
import { udpBinding } from '../src/stun/index.js';
import { discoverNat } from '../src/discovery/index.js';

const [host, portText, runsText] = process.argv.slice(2);
const server = { host: host!, port: Number(portText) };
const runs = Number(runsText ?? 3);

const bindingMs: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  await udpBinding({ server, timeoutMs: 2000 });
  bindingMs.push(performance.now() - started);
}
const profileMs: number[] = [];
let summary = {};
for (let i = 0; i < runs; i++) {
  const profile = await discoverNat({ server });
  profileMs.push(profile.durationMs);
  summary = { udp: profile.udp?.rfc3489Type, delta: profile.udp?.delta, tcp: profile.tcp?.kind, tcpDelta: profile.tcp?.delta };
}
process.stdout.write(JSON.stringify({ bindingMs, profileMs, summary }) + '\n');
