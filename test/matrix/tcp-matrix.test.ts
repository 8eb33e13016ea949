import { defineMatrixSuite } from './matrix-suite.js';

// Issue 6's matrix, against real kernel NATs: the built CLI runs `ntcp listen` in one lab host
// and `ntcp connect` in another for every ordered pair of presets (the RST-answering
// port-restricted NAT among them) and two hosts behind the same NAT, without link shaping; then
// 20 ms and 50 ms one-way delay and 1% loss for a representative subset (the full cross product
// of every variant, `npm run matrix`, takes several minutes). 1 MiB goes each way with a SHA-256
// check. Relay off: pairs without a direct path must fail with a typed error within the timeout.

const SHAPED_SUBSET = ['port-restricted', 'symmetric-seq:1', 'symmetric'];

defineMatrixSuite(
  {
    transports: ['tcp'],
    variants: [
      { variant: 'plain' },
      ...['delay20', 'delay50', 'loss1'].map((variant) => ({ variant, presets: SHAPED_SUBSET, sameNat: false })),
    ],
  },
  `shaped variants (delay20, delay50, loss1) ran on the subset ${SHAPED_SUBSET.join(', ')} only; ` +
    'the full cross product of every variant: npm run matrix -- --transport tcp',
);
