/**
 * Codec micro-benchmark: decode/encode ops/s of a Binding request and response, each next to a
 * reference doing the least work on the same bytes (one Buffer.copy into a preallocated buffer),
 * measured in the same run. `npm run bench:codec [-- --seconds 1]`.
 */
import {
  attribute,
  decodeMessage,
  encodeMessage,
  encodeMessageInto,
  getAttribute,
  OtherAddress,
  ResponseOrigin,
  Software,
  StunClass,
  StunMethod,
  XorMappedAddress,
  newTransactionId,
  type StunMessage,
} from '../src/codec/index.js';

const secondsArgument = process.argv.indexOf('--seconds');
const SECONDS = secondsArgument === -1 ? 1 : Number(process.argv[secondsArgument + 1]);
const BATCH = 1000;
const SLICE_MS = 50;

/** CPU time of this process in ms: other processes on a busy machine do not count against us. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Runs `operation` for about SLICE_MS of wall time; returns [operations, CPU ms]. */
function slice(operation: () => unknown): [number, number] {
  const cpuStart = cpuMs();
  const end = performance.now() + SLICE_MS;
  let count = 0;
  while (performance.now() < end) {
    for (let i = 0; i < BATCH; i++) operation();
    count += BATCH;
  }
  return [count, cpuMs() - cpuStart];
}

/**
 * Operations per CPU-second of `operation` and of `reference`, measured in alternating slices
 * (after a warm-up) so that load changes during the run hit both alike.
 */
function compare(operation: () => unknown, reference: () => unknown): { opsPerSecond: number; reference: number } {
  slice(operation);
  slice(reference);
  const totals = { operations: 0, operationMs: 0, references: 0, referenceMs: 0 };
  const rounds = Math.max(1, Math.round((SECONDS * 1000) / (2 * SLICE_MS)));
  for (let round = 0; round < rounds; round++) {
    const [operations, operationMs] = slice(operation);
    const [references, referenceMs] = slice(reference);
    totals.operations += operations;
    totals.operationMs += operationMs;
    totals.references += references;
    totals.referenceMs += referenceMs;
  }
  return {
    opsPerSecond: (totals.operations * 1000) / totals.operationMs,
    reference: (totals.references * 1000) / totals.referenceMs,
  };
}

const transactionId = newTransactionId();
const request: StunMessage = { cls: StunClass.Request, method: StunMethod.Binding, transactionId, attributes: [] };
const response: StunMessage = {
  cls: StunClass.SuccessResponse,
  method: StunMethod.Binding,
  transactionId,
  attributes: [
    attribute(XorMappedAddress, { family: 'IPv4', address: '203.0.113.77', port: 54321 }),
    attribute(ResponseOrigin, { family: 'IPv4', address: '198.51.100.1', port: 3478 }),
    attribute(OtherAddress, { family: 'IPv4', address: '198.51.100.2', port: 3479 }),
    attribute(Software, 'ntcp'),
  ],
};
const requestBytes = encodeMessage(request);
const responseBytes = encodeMessage(response, { fingerprint: true });
const target = Buffer.allocUnsafe(1500);
let sink = 0;

const rows: Array<{ case: string; bytes: number; opsPerSecond: number; reference: number }> = [];
function measure(name: string, bytes: Buffer, operation: () => unknown): void {
  rows.push({ case: name, bytes: bytes.length, ...compare(operation, () => (sink += bytes.copy(target, 0))) });
}

measure('decode Binding request', requestBytes, () => (sink += decodeMessage(requestBytes).attributes.length));
measure('encode Binding request', requestBytes, () => (sink += encodeMessage(request).length));
measure('decode Binding response (+FINGERPRINT check)', responseBytes, () => {
  sink += getAttribute(decodeMessage(responseBytes), XorMappedAddress)!.port;
});
measure('encode Binding response (+FINGERPRINT), encodeMessage', responseBytes, () => (sink += encodeMessage(response, { fingerprint: true }).length));
measure('encode Binding response (+FINGERPRINT), encodeMessageInto', responseBytes, () => (sink += encodeMessageInto(response, target, 0, { fingerprint: true })));

const format = (value: number) => Math.round(value).toLocaleString('en-US').padStart(12);
console.log(`codec benchmark, Node ${process.version}, ~${SECONDS}s per case, ops per CPU-second;`);
console.log('reference = Buffer.copy of the same bytes into a preallocated buffer, in alternating slices');
console.log(`${'case'.padEnd(58)} ${'bytes'.padStart(5)} ${'ops/s'.padStart(12)} ${'ns/op'.padStart(7)} ${'reference/s'.padStart(12)}  ratio`);
for (const row of rows) {
  const nanoseconds = (1e9 / row.opsPerSecond).toFixed(0).padStart(7);
  console.log(
    `${row.case.padEnd(58)} ${String(row.bytes).padStart(5)} ${format(row.opsPerSecond)} ${nanoseconds} ${format(row.reference)}  ${(row.opsPerSecond / row.reference).toFixed(3)}`,
  );
}
if (sink === 0) console.log('(unreachable: keeps the work observable)');
