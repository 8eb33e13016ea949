import { defineMatrixSuite } from '../matrix/matrix-suite.js';

// Issue 5's UDP matrix, against real kernel NATs, through the shared matrix runner
// (src/lab/matrix): the built CLI runs `ntcp listen --udp` in one lab host and `ntcp connect --udp`
// in another for every ordered pair of presets and two hosts behind the same NAT, with and
// without 20 ms one-way delay; 64 self-checking lines go each way and all must arrive. Relay off:
// where no direct path exists (a random mapper against a sequential or random one), connect must
// fail with a typed error within its timeout. The unshaped run also has issue 7's UDP-blocked
// site (a port-restricted NAT behind a firewall that drops UDP): every UDP pair with it fails at
// once with ERR_UDP_BLOCKED (relay off; `npm run matrix -- --relay auto` takes the relay over TCP),
// and two hosts behind it must still connect over their LAN.

const PRESETS = ['none', 'full-cone', 'restricted-cone', 'port-restricted', 'symmetric', 'symmetric-seq:1', 'symmetric-seq:2'];

defineMatrixSuite(
  {
    transports: ['udp'],
    variants: [{ variant: 'plain', presets: [...PRESETS, 'udp-blocked'] }, { variant: 'delay20', presets: PRESETS }],
  },
  'UDP, every ordered pair, unshaped (with a UDP-blocked site) and 20 ms; 50 ms and 1% loss: npm run matrix -- --transport udp',
);
