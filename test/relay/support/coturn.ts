// The coturn fixture lives in test/support/coturn.ts; this path stays for the suites importing it.
export { coturnInstalled, freePort, startCoturn, type Coturn, type CoturnAuth } from '../../support/coturn.js';
