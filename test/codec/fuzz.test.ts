import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  decodeMessage,
  encodeMessage,
  StunDecodeError,
  StunUnknownAttributesError,
  type StunMessage,
} from '../../src/codec/index.js';
import { encodeOptions, mutate, mutation, randomInput, validMessage } from './arbitraries.js';

/** Generating a valid message costs about three mutations from the pool: most inputs are mutations. */
const VALID_RUNS = 5_000;
const MUTATION_RUNS = 75_000;
const RANDOM_RUNS = 25_000;
/** Mutations start from a pool of valid encodings (generating a message per run costs more than decoding it). */
const POOL_SIZE = 2_000;
const POOL_SEED = Date.now() | 0;

interface CorpusEntry {
  name: string;
  hex: string;
  expect: 'ok' | 'ERR_STUN_DECODE' | 'ERR_STUN_UNKNOWN_ATTRIBUTES';
}
const corpus = JSON.parse(readFileSync(new URL('./corpus/corpus.json', import.meta.url), 'utf8')) as CorpusEntry[];

let inputs = 0;

/**
 * The decoder's whole contract on arbitrary bytes: a message, or one of the two typed errors
 * (each raised deliberately).
 * A decoded message must encode again (decode limits equal encode limits), and that encoding
 * must be a fixed point of decode+encode.
 */
function checkDecoder(bytes: Buffer): 'ok' | 'ERR_STUN_DECODE' | 'ERR_STUN_UNKNOWN_ATTRIBUTES' {
  inputs++;
  let message: StunMessage;
  try {
    message = decodeMessage(bytes);
  } catch (error) {
    if (error instanceof StunUnknownAttributesError) return error.code as never;
    if (!(error instanceof StunDecodeError)) throw error;
    // decodeMessage wraps whatever a codec throws; built-in codecs must fail on purpose, not
    // through a RangeError that the wrapper happens to catch.
    if (error.cause !== undefined && !(error.cause instanceof StunDecodeError)) throw error;
    return error.code as never;
  }
  const once = encodeMessage(message);
  assert.deepEqual(encodeMessage(decodeMessage(once)), once);
  return 'ok';
}

test('committed corpus decodes as recorded', () => {
  assert.ok(corpus.length >= 20, 'corpus has its interesting inputs');
  for (const entry of corpus) {
    assert.equal(checkDecoder(Buffer.from(entry.hex, 'hex')), entry.expect, entry.name);
  }
});

test('valid messages round-trip byte for byte: encode(decode(x)) == x', () => {
  fc.assert(
    fc.property(validMessage, encodeOptions, (message, options) => {
      const bytes = encodeMessage(message, options);
      inputs++;
      assert.deepEqual(encodeMessage(decodeMessage(bytes)), bytes);
    }),
    { numRuns: VALID_RUNS },
  );
});

test('mutated messages (bit flips, truncation, length edits, inserted attributes) never escape the typed errors', () => {
  const pool = fc
    .sample(fc.tuple(validMessage, encodeOptions), { numRuns: POOL_SIZE, seed: POOL_SEED })
    .map(([message, options]) => encodeMessage(message, options))
    .concat(corpus.filter((entry) => entry.expect === 'ok').map((entry) => Buffer.from(entry.hex, 'hex')));
  fc.assert(
    fc.property(fc.nat(pool.length - 1), mutation, (index, change) => void checkDecoder(mutate(pool[index]!, change))),
    { numRuns: MUTATION_RUNS },
  );
});

test('random bytes never escape the typed errors', () => {
  fc.assert(fc.property(randomInput, (bytes) => void checkDecoder(bytes)), { numRuns: RANDOM_RUNS });
});

test('at least 100,000 inputs were run', () => {
  console.log(
    `codec fuzz: ${inputs} inputs decoded (${corpus.length} corpus, ${VALID_RUNS} valid, ${MUTATION_RUNS} mutated from a pool of ${POOL_SIZE} (seed ${POOL_SEED}), ${RANDOM_RUNS} random)`,
  );
  assert.ok(inputs >= 100_000, `only ${inputs} inputs`);
});
