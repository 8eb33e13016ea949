// The built-in relay in its own process for `npm run bench:relay`, from the compiled dist/ (no
// transpiler in the process whose memory is measured). Commands arrive over IPC. The splice engine
// comes from NTCP_RELAY_SPLICE (the bench sets it per process).
import { startRelay } from '../dist/relay/index.js';

const relay = await startRelay({
  host: '127.0.0.1', tcpPort: 0, udpPort: 0,
  // The bench measures the relay's own cost: rates unbounded, counts above the idle-session run.
  limits: { bytesPerSecond: Number.MAX_SAFE_INTEGER, maxSessions: 20_000, attachesPerSecond: 1_000_000, attachBurst: 1_000_000, maxHandshakes: 20_000 },
});
process.send({ kind: 'ready', endpoints: relay.endpoints, spliceEngine: relay.spliceEngine });

process.on('message', async (command) => {
  if (command.kind === 'sessions') {
    const grants = await Promise.all(Array.from({ length: command.count }, () => relay.createSession()));
    process.send({ kind: 'sessions', tokens: grants.map((grant) => grant.tokens) });
  } else if (command.kind === 'cpu') {
    process.send({ kind: 'cpu', ...process.cpuUsage() });
  } else if (command.kind === 'memory') {
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    process.send({ kind: 'memory', rss, heapUsed, sessions: relay.sessionCount, active: relay.activeSessionCount });
  } else {
    await relay.close();
    process.exit(0);
  }
});

// The bench process went away (crash, Ctrl-C): do not outlive it.
process.on('disconnect', () => process.exit(0));
