// The on-disk image format: one file per split and size, holding N images as uint8 HWC, row-major, after a
// 32-byte header. Small enough to read whole into memory, simple enough to write from any language.
//
//   bytes 0..7   magic "TSRSHRD1"
//   bytes 8..23  uint32 LE: count, height, width, channels
//   bytes 24..31 zero
//   bytes 32..   count·height·width·channels bytes
import { createHash } from "node:crypto";
import fs from "node:fs";

const MAGIC = "TSRSHRD1";
export const HEADER_BYTES = 32;

export interface Shard {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count·height·width·channels bytes; image i starts at i·height·width·channels. */
  data: Uint8Array;
}

export function imageBytes(s: Pick<Shard, "height" | "width" | "channels">): number {
  return s.height * s.width * s.channels;
}

/** One image's bytes (a view, not a copy). */
export function imageAt(shard: Shard, i: number): Uint8Array {
  if (!Number.isInteger(i) || i < 0 || i >= shard.count) throw new RangeError(`image ${i} is outside 0..${shard.count - 1}`);
  const n = imageBytes(shard);
  return shard.data.subarray(i * n, (i + 1) * n);
}

export function encodeShard(shard: Shard): Buffer {
  const expected = shard.count * imageBytes(shard);
  if (shard.data.length !== expected) {
    throw new Error(`shard data holds ${shard.data.length} bytes; ${shard.count}×${shard.height}×${shard.width}×${shard.channels} needs ${expected}`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(MAGIC, 0, "ascii");
  header.writeUInt32LE(shard.count, 8);
  header.writeUInt32LE(shard.height, 12);
  header.writeUInt32LE(shard.width, 16);
  header.writeUInt32LE(shard.channels, 20);
  return Buffer.concat([header, Buffer.from(shard.data.buffer, shard.data.byteOffset, shard.data.byteLength)]);
}

/** Parses a shard; `source` names the file in error messages. Every inconsistency is an error, never a guess. */
export function decodeShard(bytes: Uint8Array, source = "shard"): Shard {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES) throw new Error(`${source}: corrupt shard (${buf.length} bytes, shorter than its header)`);
  const magic = buf.toString("ascii", 0, 8);
  if (magic !== MAGIC) throw new Error(`${source}: not a Tessera shard (magic "${magic.replace(/[^\x20-\x7e]/g, "?")}", expected "${MAGIC}")`);
  const count = buf.readUInt32LE(8);
  const height = buf.readUInt32LE(12);
  const width = buf.readUInt32LE(16);
  const channels = buf.readUInt32LE(20);
  if (!height || !width || !channels) throw new Error(`${source}: corrupt shard header (${height}×${width}×${channels})`);
  const expected = HEADER_BYTES + count * height * width * channels;
  if (buf.length !== expected) {
    throw new Error(`${source}: corrupt shard: ${buf.length} bytes, but its header (${count} images of ${height}×${width}×${channels}) needs ${expected} (truncated or appended to?)`);
  }
  return { count, height, width, channels, data: new Uint8Array(buf.buffer, buf.byteOffset + HEADER_BYTES, expected - HEADER_BYTES) };
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Writes atomically (temp file + rename) so an interrupted build never leaves a half-written shard. */
export function writeShard(file: string, shard: Shard): { bytes: number; sha256: string } {
  const encoded = encodeShard(shard);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, encoded);
  fs.renameSync(tmp, file);
  return { bytes: encoded.length, sha256: sha256(encoded) };
}

/** Reads a shard; with `expectSha256` the file must also match the manifest's checksum. */
export function readShard(file: string, expectSha256?: string): Shard {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read shard ${file}: ${(err as Error).message}`);
  }
  if (expectSha256) {
    const actual = sha256(bytes);
    if (actual !== expectSha256) throw new Error(`${file}: corrupt shard (sha256 ${actual.slice(0, 12)}…, manifest says ${expectSha256.slice(0, 12)}…)`);
  }
  return decodeShard(bytes, file);
}
