import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeSourceAddress } from '../../src/discovery/local-address.js';
import type { Logger } from '../../src/observe/logger.js';

function recordingLogger(): Logger & { warnings: Array<{ fields: object; message: string | undefined }> } {
  const warnings: Array<{ fields: object; message: string | undefined }> = [];
  const logger = {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (fields: object, message?: string) => void warnings.push({ fields, message }),
    error: () => undefined,
    child: () => logger,
  };
  return logger;
}

test('the route source address to a loopback server is a loopback address, with nothing logged', async () => {
  const logger = recordingLogger();
  assert.equal(await routeSourceAddress({ family: 'IPv4', address: '127.0.0.1', port: 3478 }, logger), '127.0.0.1');
  assert.equal(logger.warnings.length, 0);
});

test('an address the kernel cannot connect to gives null and a warning that says why', async () => {
  const logger = recordingLogger();
  assert.equal(await routeSourceAddress({ family: 'IPv4', address: '127.0.0.1', port: 0 }, logger), null);
  assert.equal(logger.warnings.length, 1);
  const { err } = logger.warnings[0]!.fields as { err: Error };
  assert.match(err.message, /port/i);
});
