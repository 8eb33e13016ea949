/**
 * CRC-32 (ISO-HDLC, as zlib) for FINGERPRINT; own code because zlib.crc32 needs Node >= 20.15.
 * Slicing-by-4: four table lookups per 32-bit word, about twice the speed of the bytewise loop
 * on the short messages a STUN server fingerprints.
 */
const TABLES = new Int32Array(256 * 4);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLES[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 4; t++) {
    const previous = TABLES[(t - 1) * 256 + n]!;
    TABLES[t * 256 + n] = TABLES[previous & 0xff]! ^ (previous >>> 8);
  }
}

export function crc32(bytes: Buffer, start: number, end: number): number {
  let crc = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    crc ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    crc =
      TABLES[768 + (crc & 0xff)]! ^
      TABLES[512 + ((crc >>> 8) & 0xff)]! ^
      TABLES[256 + ((crc >>> 16) & 0xff)]! ^
      TABLES[crc >>> 24]!;
  }
  for (; i < end; i++) crc = TABLES[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
