/**
 * RFC 5769 "Test Vectors for STUN", transcribed from the RFC text (sections 2.1-2.4), plus the
 * RFC 8489 Appendix B.1 vector (MESSAGE-INTEGRITY-SHA256 and USERHASH). Hex as printed in the
 * RFCs, one 32-bit word per group.
 */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

export const PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt';
export const TRANSACTION_ID = hex('b7e7a701 bc34d686 fa87dfae');

/** 2.1: Binding request, SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FINGERPRINT. */
export const sampleRequest = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);
export const sampleRequestSoftware = 'STUN test client';
export const sampleRequestUsername = 'evtj:h6vY';

/** 2.2: Binding success response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
export const sampleIPv4Response = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);

/** 2.3: Binding success response, XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
export const sampleIPv6Response = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);
export const responseSoftware = 'test vector';
export const mappedIPv4 = { family: 'IPv4', address: '192.0.2.1', port: 32853 } as const;
export const mappedIPv6 = { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 } as const;

/** 2.4: Binding request with long-term credentials (no FINGERPRINT). */
export const longTermRequest = hex(`
  00010060 2112a442 78ad3433 c6ad72c0 29da412e
  00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000
  0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341
  0014000b 6578616d 706c652e 6f726700
  00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666`);
export const longTermUsername = '\u30de\u30c8\u30ea\u30c3\u30af\u30b9';
/** "The<U+00AD>M<U+00AA>tr<U+2168>", which prepares to "TheMatrIX". */
export const longTermPassword = 'The\u00adM\u00aatr\u2168';
export const longTermNonce = 'f//499k954d6OL34oL9FSTvy64sA';
export const longTermRealm = 'example.org';

/** RFC 8489 Appendix B.1: USERHASH, NONCE, REALM, MESSAGE-INTEGRITY-SHA256. */
export const sha256Request = hex(`
  0001009c 2112a442 78ad3433 c6ad72c0 29da412e
  001e0020 4a3cf38f ef6992bd a952c678 0417da0f 24819415 569e60b2 05c46e41 407f1704
  00150029 6f624d61 744a6f73 32414141 43662f2f 3439396b 39353464 364f4c33 346f4c39 46535476 79363473 41000000
  0014000b 6578616d 706c652e 6f726700
  001c0020 e4686c8f 0edeb590 13e07090 010a93ef ccbccc54 4c0a45d9 f830aa6d 6f735a01`);
export const sha256Nonce = 'obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA';
