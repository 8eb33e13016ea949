import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { longTermKey, saslPrep, shortTermKey, StunEncodeError, userhash } from '../../src/codec/index.js';

test('SASLprep-lite removes soft hyphens and applies NFKC (RFC 5769 2.4 password)', () => {
  assert.equal(saslPrep('The\u00adM\u00aatr\u2168'), 'TheMatrIX');
});

test('SASLprep-lite maps non-ASCII spaces to U+0020', () => {
  assert.equal(saslPrep('a\u00a0b\u3000c'), 'a b c');
});

test('SASLprep-lite leaves plain ASCII and already-normal text unchanged', () => {
  assert.equal(saslPrep('VOkJxbRl1RmTxUk/WvJxBt'), 'VOkJxbRl1RmTxUk/WvJxBt');
  assert.equal(saslPrep('\u30de\u30c8\u30ea\u30c3\u30af\u30b9'), '\u30de\u30c8\u30ea\u30c3\u30af\u30b9');
});

test('SASLprep-lite refuses control characters', () => {
  assert.throws(() => saslPrep('pass\u0007word'), StunEncodeError);
  assert.throws(() => saslPrep('pass\u0085'), StunEncodeError);
});

test('the short-term key is the prepared password as UTF-8', () => {
  assert.deepEqual(shortTermKey('p\u00e4ss'), Buffer.from('p\u00e4ss', 'utf8'));
});

test('the long-term key is MD5(username:realm:password) by default, 16 bytes', () => {
  const expected = createHash('md5').update('user:realm:pass').digest();
  assert.deepEqual(longTermKey('user', 'realm', 'pass'), expected);
});

test('the SHA-256 long-term key is SHA-256(username:realm:password), 32 bytes', () => {
  const expected = createHash('sha256').update('user:realm:pass').digest();
  assert.deepEqual(longTermKey('user', 'realm', 'pass', 'sha256'), expected);
});

test('userhash is SHA-256(username:realm)', () => {
  assert.deepEqual(userhash('user', 'realm'), createHash('sha256').update('user:realm').digest());
});
