import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import {
  attribute,
  ChangedAddress,
  ChangeRequest,
  decodeMessage,
  encodeMessage,
  ErrorCode,
  getAttribute,
  MappedAddress,
  MessageIntegrity,
  newTransactionId,
  OtherAddress,
  Padding,
  ResponseOrigin,
  ResponsePort,
  shortTermKey,
  SourceAddress,
  StunClass,
  StunMethod,
  UnknownAttributes,
  Username,
  XorMappedAddress,
  type StunAttribute,
  type StunMessage,
} from '../../src/codec/index.js';
import { ManualClock, startStunServer, StunFrameDecoder } from '../../src/stun/index.js';
import { BindingHandler } from '../../src/stun/binding-handler.js';
import { BindingFastPath } from '../../src/stun/fast-path.js';
import { A, B, exchange, fullRfc5780Server, udpClient } from './helpers.js';

/** A comprehension-required type (< 0x8000) no codec knows. */
const UNKNOWN_REQUIRED_TYPE = 0x7f31;

function request(attributes: StunAttribute[] = [], legacy = false): StunMessage {
  return {
    cls: StunClass.Request,
    method: StunMethod.Binding,
    transactionId: legacy ? Buffer.concat([newTransactionId(), Buffer.alloc(4, 9)]) : newTransactionId(),
    legacy,
    attributes,
  };
}

function rawAttribute(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

/** A Binding request whose body is given as raw bytes (for attributes the codec would refuse). */
function rawRequest(body: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt16BE(body.length, 2);
  header.writeUInt32BE(0x2112a442, 4);
  newTransactionId().copy(header, 8);
  return Buffer.concat([header, body]);
}

describe('STUN server on two addresses and two ports (RFC 5780)', () => {
  const stun = fullRfc5780Server();

  test('listens on four UDP and four TCP endpoints', () => {
    const { port, altPort } = stun.server.endpoints;
    const expected = [`${A}:${port}`, `${A}:${altPort}`, `${B}:${port}`, `${B}:${altPort}`];
    assert.deepEqual(stun.server.endpoints.udp.map((e) => `${e.address}:${e.port}`), expected);
    assert.deepEqual(stun.server.endpoints.tcp.map((e) => `${e.address}:${e.port}`), expected);
    assert.equal(stun.server.endpoints.fullRfc5780, true);
  });

  test('a Binding response carries XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS', async () => {
    const socket = await udpClient();
    try {
      const reply = await exchange(socket, encodeMessage(request()), stun.target);
      assert.ok(reply);
      const response = decodeMessage(reply.bytes);
      assert.equal(response.cls, StunClass.SuccessResponse);
      assert.deepEqual(getAttribute(response, XorMappedAddress), { family: 'IPv4', address: A, port: socket.address().port });
      assert.deepEqual(getAttribute(response, ResponseOrigin), { family: 'IPv4', address: A, port: stun.target.port });
      assert.deepEqual(getAttribute(response, OtherAddress), { family: 'IPv4', address: B, port: stun.server.endpoints.altPort });
    } finally {
      socket.close();
    }
  });

  for (const [changeIp, changePort] of [[true, false], [false, true], [true, true]] as const) {
    test(`CHANGE-REQUEST ip=${changeIp} port=${changePort} is answered from the matching socket`, async () => {
      const socket = await udpClient();
      try {
        const reply = await exchange(socket, encodeMessage(request([attribute(ChangeRequest, { changeIp, changePort })])), stun.target);
        assert.ok(reply);
        const expected = { address: changeIp ? B : A, port: changePort ? stun.server.endpoints.altPort : stun.server.endpoints.port };
        assert.deepEqual({ address: reply.from.address, port: reply.from.port }, expected);
        assert.deepEqual(getAttribute(decodeMessage(reply.bytes), ResponseOrigin), { family: 'IPv4', ...expected });
      } finally {
        socket.close();
      }
    });
  }

  test('RESPONSE-PORT sends the response to another port of the requesting address', async () => {
    const [sender, receiver] = [await udpClient(), await udpClient()];
    try {
      const arrived = once(receiver, 'message');
      sender.send(encodeMessage(request([attribute(ResponsePort, receiver.address().port)])), stun.target.port, stun.target.host);
      const [bytes] = (await arrived) as [Buffer];
      assert.deepEqual(getAttribute(decodeMessage(bytes), XorMappedAddress)?.port, sender.address().port);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  test('an unknown comprehension-required attribute gets 420 with UNKNOWN-ATTRIBUTES', async () => {
    const socket = await udpClient();
    try {
      const before420 = stun.server.counters.get('errors.420');
      const reply = await exchange(socket, rawRequest(rawAttribute(UNKNOWN_REQUIRED_TYPE, Buffer.alloc(4))), stun.target);
      assert.ok(reply);
      const response = decodeMessage(reply.bytes);
      assert.equal(response.cls, StunClass.ErrorResponse);
      assert.equal(getAttribute(response, ErrorCode)?.code, 420);
      assert.deepEqual(getAttribute(response, UnknownAttributes), [UNKNOWN_REQUIRED_TYPE]);
      assert.equal(stun.server.counters.get('errors.420'), before420 + 1);
    } finally {
      socket.close();
    }
  });

  test('a malformed request (attribute overrunning the message) gets 400', async () => {
    const socket = await udpClient();
    try {
      const body = Buffer.alloc(8);
      body.writeUInt16BE(XorMappedAddress.type, 0);
      body.writeUInt16BE(40, 2);
      const reply = await exchange(socket, rawRequest(body), stun.target);
      assert.ok(reply);
      const response = decodeMessage(reply.bytes);
      assert.equal(response.cls, StunClass.ErrorResponse);
      assert.equal(getAttribute(response, ErrorCode)?.code, 400);
    } finally {
      socket.close();
    }
  });

  test('an RFC 3489 client gets MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS', async () => {
    const socket = await udpClient();
    try {
      const legacyRequest = request([], true);
      const reply = await exchange(socket, encodeMessage(legacyRequest), stun.target);
      assert.ok(reply);
      const response = decodeMessage(reply.bytes);
      assert.equal(response.legacy, true);
      assert.deepEqual(response.transactionId, legacyRequest.transactionId);
      assert.deepEqual(getAttribute(response, MappedAddress), { family: 'IPv4', address: A, port: socket.address().port });
      assert.deepEqual(getAttribute(response, SourceAddress), { family: 'IPv4', address: A, port: stun.target.port });
      assert.deepEqual(getAttribute(response, ChangedAddress), { family: 'IPv4', address: B, port: stun.server.endpoints.altPort });
      assert.equal(getAttribute(response, XorMappedAddress), undefined);
    } finally {
      socket.close();
    }
  });

  test('garbage is dropped and counted, and the server keeps answering', async () => {
    const socket = await udpClient();
    try {
      const before = stun.server.counters.get('dropped.garbage');
      const lengthMismatch = encodeMessage(request());
      lengthMismatch.writeUInt16BE(8, 2);
      for (const junk of [Buffer.from('hello'), Buffer.alloc(64, 0xff), Buffer.alloc(21), lengthMismatch]) {
        assert.equal(await exchange(socket, junk, stun.target, 100), undefined);
      }
      assert.equal(stun.server.counters.get('dropped.garbage'), before + 4);
      assert.ok(await exchange(socket, encodeMessage(request()), stun.target));
    } finally {
      socket.close();
    }
  });

  test('PADDING from an unauthenticated request is ignored (no amplification)', async () => {
    const socket = await udpClient();
    try {
      const reply = await exchange(socket, encodeMessage(request([attribute(Padding, Buffer.alloc(1200))])), stun.target);
      assert.ok(reply);
      assert.equal(getAttribute(decodeMessage(reply.bytes), Padding), undefined);
      assert.ok(reply.bytes.length < 100, `response is ${reply.bytes.length} bytes`);
    } finally {
      socket.close();
    }
  });

  test('over TCP, frames split and coalesced are answered in order; CHANGE-REQUEST gets 400', async () => {
    const socket = net.connect(stun.target.port, A);
    await once(socket, 'connect');
    const localPort = socket.localPort;
    const first = request();
    const second = request([attribute(ChangeRequest, { changeIp: true, changePort: false })]);
    const bytes = Buffer.concat([encodeMessage(first), encodeMessage(second)]);
    socket.write(bytes.subarray(0, 7));
    socket.write(bytes.subarray(7));
    const decoder = new StunFrameDecoder();
    const frames: Buffer[] = [];
    for await (const chunk of socket) {
      frames.push(...decoder.push(chunk as Buffer));
      if (frames.length === 2) break;
    }
    socket.destroy();
    const [a, b] = frames.map((frame) => decodeMessage(frame));
    assert.deepEqual(a!.transactionId, first.transactionId);
    assert.equal(getAttribute(a!, XorMappedAddress)?.port, localPort);
    assert.equal(getAttribute(b!, ErrorCode)?.code, 400);
  });

  test('a TCP stream that is not STUN is closed and counted', async () => {
    const before = stun.server.counters.get('tcp.framing-errors');
    const socket = net.connect(stun.target.port, A);
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: stun\r\n\r\n');
    await once(socket, 'close');
    assert.equal(stun.server.counters.get('tcp.framing-errors'), before + 1);
  });

  test('the hot path answers byte for byte as the general path does', () => {
    const handler = new BindingHandler({ addresses: [A, B], ports: [3478, 3479], maxPaddingBytes: 0 });
    const tails = [0, 1, 2, 3].map((i) => {
      const at = { ip: (i >> 1) as 0 | 1, port: (i & 1) as 0 | 1 };
      const general = handler.handle(encodeMessage(request()), { family: 'IPv4', address: '1.2.3.4', port: 5 }, at, 'udp');
      assert.equal(general.action, 'respond');
      return general.action === 'respond' ? general.bytes.subarray(44) : Buffer.alloc(0);
    });
    const fast = new BindingFastPath(tails);
    const bytes = encodeMessage(request());
    const source = { family: 'IPv4' as const, address: '198.51.100.77', port: 40000 };
    const general = handler.handle(bytes, source, { ip: 1, port: 0 }, 'udp');
    assert.equal(general.action, 'respond');
    assert.deepEqual(fast.respond(bytes, source.address, source.port, { ip: 1, port: 0 }), general.action === 'respond' ? general.bytes : undefined);
  });
});

describe('STUN server limits and credentials', () => {
  test('a source over its rate is dropped and counted (manual clock)', async () => {
    const clock = new ManualClock();
    const server = await startStunServer({ host: A, port: 0, altPort: 0, tcp: false, clock, limits: { ratePerSecond: 5, rateBurst: 5 } });
    const socket = await udpClient();
    try {
      const target = { host: A, port: server.endpoints.port };
      const answered: boolean[] = [];
      for (let i = 0; i < 8; i++) answered.push((await exchange(socket, encodeMessage(request()), target, 150)) !== undefined);
      assert.deepEqual(answered, [true, true, true, true, true, false, false, false]);
      assert.equal(server.counters.get('dropped.rate-limited'), 3);
      clock.advance(200);
      assert.ok(await exchange(socket, encodeMessage(request()), target), 'a token refilled after 200 ms at 5/s');
    } finally {
      socket.close();
      await server.close();
    }
  });

  test('TCP connections beyond the limit are refused; idle ones are closed', async () => {
    const server = await startStunServer({ host: A, port: 0, altPort: 0, udp: false, limits: { maxTcpConnections: 2, tcpIdleTimeoutMs: 200 } });
    try {
      const connect = async () => {
        const socket = net.connect(server.endpoints.port, A);
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        return socket;
      };
      const open = [await connect(), await connect()];
      const third = await connect();
      await once(third, 'close');
      assert.equal(server.counters.get('tcp.rejected'), 1);
      await Promise.all(open.map((socket) => once(socket, 'close')));
      assert.equal(server.counters.get('tcp.idle-timeouts'), 2);
      for (let i = 0; i < 100 && server.tcpConnections > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(server.tcpConnections, 0);
    } finally {
      await server.close();
    }
  });

  test('one address: Binding is served without OTHER-ADDRESS, CHANGE-REQUEST gets 420', async () => {
    const server = await startStunServer({ host: A, port: 0, altPort: 0, tcp: false });
    const socket = await udpClient();
    try {
      const target = { host: A, port: server.endpoints.port };
      assert.equal(server.endpoints.fullRfc5780, false);
      const plain = decodeMessage((await exchange(socket, encodeMessage(request()), target))!.bytes);
      assert.equal(getAttribute(plain, OtherAddress), undefined);
      assert.ok(getAttribute(plain, XorMappedAddress));
      const change = request([attribute(ChangeRequest, { changeIp: true, changePort: false })]);
      const refused = decodeMessage((await exchange(socket, encodeMessage(change), target))!.bytes);
      assert.equal(getAttribute(refused, ErrorCode)?.code, 420);
      assert.deepEqual(getAttribute(refused, UnknownAttributes), [ChangeRequest.type]);
    } finally {
      socket.close();
      await server.close();
    }
  });

  test('short-term credentials: 400 without, 401 when wrong, MESSAGE-INTEGRITY and capped PADDING when right', async () => {
    const credentials = { username: 'alice', password: 'secret' };
    const server = await startStunServer({ host: A, port: 0, altPort: 0, tcp: false, credentials, limits: { maxPaddingBytes: 256 } });
    const socket = await udpClient();
    try {
      const target = { host: A, port: server.endpoints.port };
      const code = async (bytes: Buffer) => getAttribute(decodeMessage((await exchange(socket, bytes, target))!.bytes), ErrorCode)?.code;
      assert.equal(await code(encodeMessage(request())), 400);
      const signed = (password: string) =>
        encodeMessage(request([attribute(Username, 'alice'), attribute(Padding, Buffer.alloc(1000))]), { integrity: { key: shortTermKey(password) } });
      assert.equal(await code(signed('wrong')), 401);
      const reply = await exchange(socket, signed('secret'), target);
      const response = decodeMessage(reply!.bytes);
      assert.equal(response.cls, StunClass.SuccessResponse);
      assert.ok(response.attributes.some((a) => a.type === MessageIntegrity.type));
      assert.equal(getAttribute(response, Padding)?.length, 256);
    } finally {
      socket.close();
      await server.close();
    }
  });
});
