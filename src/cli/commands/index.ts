import type { Command } from 'commander';
import { register as connect } from './connect.js';
import { register as demo } from './demo.js';
import { register as lab } from './lab.js';
import { register as listen } from './listen.js';
import { register as probe } from './probe.js';
import { register as server } from './server.js';
import { register as stun } from './stun.js';
import { register as stunServer } from './stun-server.js';

/** Each command module exports one `register(program)`; keep this list sorted. */
export const commands: Array<(program: Command) => void> = [
  connect,
  demo,
  lab,
  listen,
  probe,
  server,
  stun,
  stunServer,
];
