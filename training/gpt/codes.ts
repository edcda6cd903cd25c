// Image codes computed once per (dataset, image tokenizer) and cached on disk: the transformer trains on codes,
// never on pixels, so re-encoding every epoch would only waste time.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import type { VQModel } from "../../lib/model/vq-model";
import { Progress } from "../progress";

/** Codes of every image of a shard, [count · h · w] row-major per image. */
export function encodeShard(model: VQModel, shard: Shard, label: string, batchSize = 128): Int32Array {
  const n = model.grid * model.grid;
  const out = new Int32Array(shard.count * n);
  const bar = new Progress(`encode ${label}`, shard.count);
  let offset = 0;
  for (const { images } of sequentialBatches(shard, batchSize)) {
    const codes = model.encode(images);
    out.set(codes.dataSync(), offset);
    offset += codes.size;
    bar.tick(images.shape[0]);
    tf.dispose([images, codes]);
  }
  bar.finish();
  return out;
}

/** Hash of the files that determine the codes: the tokenizer's weights and the dataset's manifest. */
export function codesKey(tokenizerDir: string, datasetDir: string): string {
  const h = createHash("sha256");
  h.update(fs.readFileSync(path.join(tokenizerDir, "manifest.json")));
  h.update(fs.readFileSync(path.join(datasetDir, "manifest.json")));
  return h.digest("hex").slice(0, 16);
}

/** Loads cached codes, or computes and caches them (as uint16: K ≤ 65536). */
export function cachedCodes(cacheDir: string, key: string, split: string, compute: () => Int32Array): Int32Array {
  const file = path.join(cacheDir, key, `${split}.u16`);
  if (fs.existsSync(file)) {
    const bytes = fs.readFileSync(file);
    return Int32Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
  }
  const codes = compute();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const u16 = Uint16Array.from(codes);
  fs.writeFileSync(`${file}.tmp`, Buffer.from(u16.buffer));
  fs.renameSync(`${file}.tmp`, file);
  return codes;
}
