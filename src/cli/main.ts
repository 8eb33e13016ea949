#!/usr/bin/env node
import { Command } from 'commander';
import { commands } from './commands/index.js';
import { reportFatal } from './output.js';

const program = new Command()
  .name('ntcp')
  .description('NAT traversal for UDP and TCP: STUN, NAT discovery, broker, hole punching, relay')
  .version('0.1.0')
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch(reportFatal);
