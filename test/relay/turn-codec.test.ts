import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attribute, decodeMessage, encodeMessage, getAttribute, newTransactionId, StunClass, StunDecodeError } from '../../src/codec/index.js';
import {
  ChannelNumber, ConnectionId, Data, DontFragment, EvenPort, Lifetime, RequestedAddressFamily, RequestedTransport, ReservationToken,
  TransportProtocol, TurnMethod, XorPeerAddress, XorRelayedAddress, channelDataHeader, parseChannelData, isChannelData, turnRestCredentials,
} from '../../src/relay/index.js';

test('TURN attributes round-trip through the STUN codec as registered extensions', () => {
  const peer = { family: 'IPv4' as const, address: '192.0.2.15', port: 49152 };
  const relayed = { family: 'IPv6' as const, address: '2001:db8::7', port: 50000 };
  const message = {
    cls: StunClass.Request, method: TurnMethod.Allocate, transactionId: newTransactionId(),
    attributes: [
      attribute(RequestedTransport, TransportProtocol.Tcp), attribute(Lifetime, 3600), attribute(ChannelNumber, 0x4001),
      attribute(XorPeerAddress, peer), attribute(XorRelayedAddress, relayed), attribute(Data, Buffer.from('abcde')),
      attribute(RequestedAddressFamily, 'IPv6' as const), attribute(EvenPort, { reserve: true }), attribute(DontFragment, true as const),
      attribute(ReservationToken, Buffer.from('0123456789abcdef', 'hex')), attribute(ConnectionId, 0xdeadbeef),
    ],
  };
  const decoded = decodeMessage(encodeMessage(message));
  assert.equal(decoded.method, TurnMethod.Allocate);
  assert.equal(getAttribute(decoded, RequestedTransport), 6);
  assert.equal(getAttribute(decoded, Lifetime), 3600);
  assert.equal(getAttribute(decoded, ChannelNumber), 0x4001);
  assert.deepEqual(getAttribute(decoded, XorPeerAddress), peer);
  assert.deepEqual(getAttribute(decoded, XorRelayedAddress), relayed);
  assert.equal(getAttribute(decoded, Data)?.toString(), 'abcde');
  assert.equal(getAttribute(decoded, RequestedAddressFamily), 'IPv6');
  assert.deepEqual(getAttribute(decoded, EvenPort), { reserve: true });
  assert.equal(getAttribute(decoded, DontFragment), true);
  assert.equal(getAttribute(decoded, ReservationToken)?.toString('hex'), '0123456789abcdef');
  assert.equal(getAttribute(decoded, ConnectionId), 0xdeadbeef);
});

test('XOR-PEER-ADDRESS is XORed on the wire like XOR-MAPPED-ADDRESS', () => {
  const transactionId = Buffer.alloc(12, 0);
  const bytes = XorPeerAddress.encode({ family: 'IPv4', address: '192.0.2.1', port: 32853 }, { transactionId, legacy: false });
  // port ^ 0x2112, address ^ 0x2112a442 (RFC 8489 §14.2)
  assert.equal(bytes.readUInt16BE(2), 32853 ^ 0x2112);
  assert.equal(bytes.readUInt32BE(4), (0xc0000201 ^ 0x2112a442) >>> 0);
});

test('a malformed TURN attribute is a StunDecodeError', () => {
  assert.throws(() => Lifetime.decode(Buffer.alloc(3), { transactionId: Buffer.alloc(12), legacy: false }), StunDecodeError);
  assert.throws(() => RequestedAddressFamily.decode(Buffer.from([9, 0, 0, 0]), { transactionId: Buffer.alloc(12), legacy: false }), StunDecodeError);
});

test('ChannelData framing: header, demultiplexing and truncation', () => {
  const message = Buffer.concat([channelDataHeader(0x4000, 3), Buffer.from('abc')]);
  assert.ok(isChannelData(message));
  assert.deepEqual(parseChannelData(message), { channel: 0x4000, data: Buffer.from('abc') });
  assert.equal(parseChannelData(message.subarray(0, 5)), undefined);
  assert.ok(!isChannelData(encodeMessage({ cls: StunClass.Indication, method: TurnMethod.Send, transactionId: newTransactionId(), attributes: [] })));
});

test("TURN REST credentials match coturn's scheme (vector computed with openssl)", () => {
  const credentials = turnRestCredentials({ secret: 'north', user: 'alice', ttlSeconds: 86_400, now: 1_600_000_000 });
  assert.equal(credentials.username, '1600086400:alice');
  // printf '%s' '1600086400:alice' | openssl dgst -sha1 -hmac north -binary | base64
  assert.equal(credentials.password, 'MPu8CXeCJf2Ytk0g20r6MygzAsk=');
});
