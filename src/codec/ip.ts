/**
 * IP address text <-> bytes without going through `net` objects: the server formats one
 * address per response, so this stays allocation-light. Output follows RFC 5952 (lowercase,
 * longest zero run compressed, IPv4-mapped addresses in dotted form).
 */

/** Writes the 4 bytes of a dotted-quad IPv4 address; false when `text` is not one. */
export function writeIPv4(text: string, target: Buffer, offset: number): boolean {
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || part > 3) return false;
      target[offset + part] = value;
      part++;
      digits = 0;
      value = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && value === 0) return false; // leading zero: ambiguous (octal) notation
      value = value * 10 + (code - 0x30);
      digits++;
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

export function readIPv4(bytes: Buffer, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

const embeddedIPv4Scratch = Buffer.alloc(4);

/** Writes the 16 bytes of an IPv6 address (a `%zone` suffix is dropped); false when invalid. */
export function writeIPv6(text: string, target: Buffer, offset: number): boolean {
  const zone = text.indexOf('%');
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const groups: number[] = [];
  const last = halves.length === 2 ? tail : head;
  const embeddedIPv4 = last.length > 0 && last[last.length - 1]!.includes('.');
  const scratch = embeddedIPv4Scratch;
  if (embeddedIPv4 && !writeIPv4(last.pop()!, scratch, 0)) return false;
  for (const list of halves.length === 2 ? [head, tail] : [head]) {
    for (const group of list) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
    }
  }
  const width = 8 - (embeddedIPv4 ? 2 : 0);
  const present = head.length + tail.length;
  if (halves.length === 2 ? present >= width : present !== width) return false;
  for (const group of head) groups.push(parseInt(group, 16));
  if (halves.length === 2) for (let i = present; i < width; i++) groups.push(0);
  for (const group of tail) groups.push(parseInt(group, 16));
  for (let i = 0; i < groups.length; i++) target.writeUInt16BE(groups[i]!, offset + i * 2);
  if (embeddedIPv4) scratch.copy(target, offset + 12);
  return true;
}

export function readIPv6(bytes: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(offset + i * 2));
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${readIPv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
