import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../tensor/backend";
import { BatchStream, sequentialBatches } from "./batches";
import { decodeShard, encodeShard, imageAt, readShard, writeShard, type Shard } from "./shard";

const shard = (count: number, size = 4): Shard => {
  const data = new Uint8Array(count * size * size * 3);
  // Image i is filled with the value i, so batches can be checked by value.
  for (let i = 0; i < count; i++) data.fill(i, i * size * size * 3, (i + 1) * size * size * 3);
  return { count, height: size, width: size, channels: 3, data };
};

let dir: string;
beforeAll(async () => {
  await initBackend({ request: "wasm", log: { info: () => {}, warn: () => {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-shard-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("shard format", () => {
  it("round-trips bytes exactly through a file, with a checksum", () => {
    const s = shard(10);
    const file = path.join(dir, "a.u8");
    const { sha256, bytes } = writeShard(file, s);
    expect(bytes).toBe(32 + 10 * 48);
    const back = readShard(file, sha256);
    expect(back).toMatchObject({ count: 10, height: 4, width: 4, channels: 3 });
    expect(Buffer.from(back.data)).toEqual(Buffer.from(s.data));
    expect([...imageAt(back, 7)]).toEqual(new Array(48).fill(7));
  });

  it("rejects a truncated file, a foreign file and a checksum mismatch with clear messages", () => {
    const encoded = encodeShard(shard(3));
    expect(() => decodeShard(encoded.subarray(0, encoded.length - 1), "x.u8")).toThrow(/x.u8: corrupt shard: 175 bytes.*needs 176/);
    expect(() => decodeShard(Buffer.from("PNG not a shard at all, really not one"), "y.u8")).toThrow(/y.u8: not a Tessera shard/);
    expect(() => decodeShard(encoded.subarray(0, 10), "z.u8")).toThrow(/shorter than its header/);
    const file = path.join(dir, "b.u8");
    writeShard(file, shard(3));
    expect(() => readShard(file, "0".repeat(64))).toThrow(/corrupt shard \(sha256/);
    expect(() => readShard(path.join(dir, "missing.u8"))).toThrow(/cannot read shard/);
  });

  it("refuses to encode data of the wrong length", () => {
    expect(() => encodeShard({ ...shard(2), count: 3 })).toThrow(/needs 144/);
  });
});

describe("batch streaming", () => {
  it("yields [B,H,W,C] float batches in [0,1] holding the indexed images", () => {
    const stream = new BatchStream(shard(10), { batchSize: 4, seed: 1 });
    const { images, indices } = stream.next();
    expect(images.shape).toEqual([4, 4, 4, 3]);
    const values = images.arraySync();
    indices.forEach((idx, b) => expect(values[b][0][0][0]).toBeCloseTo(idx / 255, 6));
    images.dispose();
  });

  it("is deterministic for a seed and covers each epoch without repeats", () => {
    const order = (seed: number) => {
      const stream = new BatchStream(shard(12), { batchSize: 4, seed });
      return Array.from({ length: 3 }, () => {
        const b = stream.next();
        b.images.dispose();
        return [...b.indices];
      }).flat();
    };
    expect(order(5)).toEqual(order(5));
    expect(order(5)).not.toEqual(order(6));
    expect([...order(5)].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("starts a new epoch instead of a short batch", () => {
    const stream = new BatchStream(shard(10), { batchSize: 4, seed: 1 });
    for (let i = 0; i < 3; i++) stream.next().images.dispose();
    expect(stream.epoch).toBe(1);
  });

  it("streams every image once in order for evaluation, the last batch shorter", () => {
    const sizes = [...sequentialBatches(shard(10), 4)].map((b) => {
      b.images.dispose();
      return b.indices.length;
    });
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("leaks no tensors", () => {
    const before = tf.memory().numTensors;
    const stream = new BatchStream(shard(10), { batchSize: 4, seed: 1 });
    for (let i = 0; i < 5; i++) stream.next().images.dispose();
    for (const b of sequentialBatches(shard(10), 3)) b.images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects a batch larger than the shard", () => {
    expect(() => new BatchStream(shard(3), { batchSize: 4, seed: 1 })).toThrow(/fewer than one batch/);
  });
});
