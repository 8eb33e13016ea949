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

/** Runs `operation` in batches for SECONDS (after a warm-up) and returns operations per second. */
function opsPerSecond(operation: () => unknown): number {
  const warmUpEnd = performance.now() + 200;
  while (performance.now() < warmUpEnd) for (let i = 0; i < BATCH; i++) operation();
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i++) operation();
    count += BATCH;
    now = performance.now();
  }
  return (count * 1000) / (now - start);
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
  const reference = opsPerSecond(() => (sink += bytes.copy(target, 0)));
  rows.push({ case: name, bytes: bytes.length, opsPerSecond: opsPerSecond(operation), reference });
}

measure('decode Binding request', requestBytes, () => (sink += decodeMessage(requestBytes).attributes.length));
measure('encode Binding request', requestBytes, () => (sink += encodeMessage(request).length));
measure('decode Binding response (+FINGERPRINT check)', responseBytes, () => {
  sink += getAttribute(decodeMessage(responseBytes), XorMappedAddress)!.port;
});
measure('encode Binding response (+FINGERPRINT), encodeMessage', responseBytes, () => (sink += encodeMessage(response, { fingerprint: true }).length));
measure('encode Binding response (+FINGERPRINT), encodeMessageInto', responseBytes, () => (sink += encodeMessageInto(response, target, 0, { fingerprint: true })));

const format = (value: number) => Math.round(value).toLocaleString('en-US').padStart(12);
console.log(`codec benchmark, Node ${process.version}, ${SECONDS}s per case; reference = Buffer.copy of the same bytes`);
console.log(`${'case'.padEnd(58)} ${'bytes'.padStart(5)} ${'ops/s'.padStart(12)} ${'reference/s'.padStart(12)}  ratio`);
for (const row of rows) {
  console.log(`${row.case.padEnd(58)} ${String(row.bytes).padStart(5)} ${format(row.opsPerSecond)} ${format(row.reference)}  ${(row.opsPerSecond / row.reference).toFixed(3)}`);
}
if (sink === 0) console.log('(unreachable: keeps the work observable)');
