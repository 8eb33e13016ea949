import { InvalidArgumentError } from '../errors.js';
import { StunEncodeError } from './errors.js';
import type { AttributeCodec, CodecContext, StunAttribute, StunMessage } from './types.js';

const codecs = new Map<number, AttributeCodec<any>>();

/**
 * Adds an attribute type to the table used by encodeMessage/decodeMessage. Extensions (TURN)
 * register their own codecs; registering another codec for a taken type is a programming error.
 */
export function registerAttribute(codec: AttributeCodec<any>): void {
  if (!Number.isInteger(codec.type) || codec.type < 0 || codec.type > 0xffff) {
    throw new InvalidArgumentError(`attribute type ${codec.type} is not a 16-bit number`);
  }
  const existing = codecs.get(codec.type);
  if (existing !== undefined && existing !== codec) {
    throw new InvalidArgumentError(
      `attribute type 0x${codec.type.toString(16)} is already registered as ${existing.name}`,
    );
  }
  codecs.set(codec.type, codec);
}

export function codecFor(type: number): AttributeCodec<unknown> | undefined {
  return codecs.get(type);
}

/** Builds a message attribute from a codec and a value (validated when the message is encoded). */
export function attribute<T>(codec: AttributeCodec<T>, value: T): StunAttribute {
  return { type: codec.type, value };
}

/** The value of the first attribute of this type, in wire order. */
export function getAttribute<T>(message: StunMessage, codec: AttributeCodec<T>): T | undefined {
  for (const entry of message.attributes) {
    if (entry.type === codec.type) return entry.value as T;
  }
  return undefined;
}

/** Every value of this type, in wire order (e.g. several ALTERNATE-SERVER or PASSWORD-ALGORITHM). */
export function getAttributes<T>(message: StunMessage, codec: AttributeCodec<T>): T[] {
  const values: T[] = [];
  for (const entry of message.attributes) {
    if (entry.type === codec.type) values.push(entry.value as T);
  }
  return values;
}

/**
 * Turns a codec with only size/write into a full AttributeCodec (encode allocates and writes),
 * so built-in codecs are written once and still honour the public contract.
 */
export function defineCodec<T>(
  codec: {
    type: number;
    name: string;
    size(value: T, context: CodecContext): number;
    write(value: T, target: Buffer, offset: number, context: CodecContext): void;
  } & (
    | { decode(data: Buffer, context: CodecContext): T }
    | { read(bytes: Buffer, offset: number, length: number, context: CodecContext): T }
  ),
): AttributeCodec<T> {
  const encode = (value: T, context: CodecContext): Buffer => {
    const bytes = Buffer.alloc(codec.size(value, context));
    codec.write(value, bytes, 0, context);
    return bytes;
  };
  if ('decode' in codec) return { ...codec, encode };
  const read = codec.read;
  return { ...codec, encode, decode: (data: Buffer, context: CodecContext): T => read(data, 0, data.length, context) };
}

export function encodeFailure(name: string, reason: string): StunEncodeError {
  return new StunEncodeError(`${name}: ${reason}`);
}
