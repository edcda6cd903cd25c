// The completion eval (issue 32 part 5) on a real, tiny, untrained model folder: it runs the unprimed baseline and
// every keepRows with the same seeds, every score is a share, and it sees a sampler that drops the prefix.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaptionRecord, Split } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { groupSamplerFor, type GroupSampler } from "../../lib/generate/engine";
import { Transformer } from "../../lib/model/transformer";
import { VQModel } from "../../lib/model/vq-model";
import { initBackend } from "../../lib/tensor/backend";
import { loadTextTokenizer, type TextTokenizer } from "../../lib/text/tokenizer";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { keptPreview, runCompletion, sourceCodesOf } from "./completion";
import { retrievalPool, type RetrievalPool } from "./eval-context";

let dir: string;
let gpt: Transformer;
let vq: VQModel;
let tok: TextTokenizer;
let pool: RetrievalPool;
let shard: Shard;
const labels = ["red heart", "grinning face", "waving hand", "red apple", "grinning cat", "thumbs up"];
const sources: CaptionRecord[] = labels.map((label, index) => ({
  split: "train",
  index,
  caption: `${label}, noto`,
  meta: { label, style: "noto" },
}));

beforeAll(async () => {
  await initBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-completion-"));
  await writeTinyModelFolder(dir);
  gpt = Transformer.load(dir).model;
  vq = VQModel.load(path.join(dir, "image-tokenizer")).model;
  tok = await loadTextTokenizer(dir);
  const s = vq.config.imageSize;
  // Flat-coloured pictures, one per label: the retrieval pool is these same six.
  const data = new Uint8Array(labels.length * s * s * 3);
  for (let i = 0; i < labels.length; i++) data.fill(20 + 40 * i, i * s * s * 3, (i + 1) * s * s * 3);
  shard = { count: labels.length, height: s, width: s, channels: 3, data };
  const one = { count: 0, height: s, width: s, channels: 3, data: new Uint8Array(0) };
  pool = retrievalPool({
    shards: { train: shard, val: one, test: one } as Record<Split, Shard>,
    caps: { train: sources, val: [], test: [] } as Record<Split, CaptionRecord[]>,
  });
});
afterAll(() => {
  pool?.dispose();
  gpt?.dispose();
  vq?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const args = (sample: GroupSampler) => ({
  gpt,
  vq,
  tok,
  sources,
  shard,
  keepRows: [2, 6],
  images: 2,
  setting: { guidance: 1.5, temperature: 1 },
  seed: 3,
  batch: 3,
  sample,
  pool,
  keepPictures: 2,
});

describe("runCompletion", () => {
  it("scores the unprimed baseline and each keepRows, keeping the source's rows exactly", async () => {
    const run = await runCompletion(args(await groupSamplerFor("tfjs")));
    expect(run.rows.map((r) => r.keepRows)).toEqual([0, 2, 6]);
    for (const r of run.rows) {
      expect(r.keptExact).toBe(1);
      for (const v of [r.exact1, r.exact5, r.family1, r.family5]) expect(v >= 0 && v <= 1).toBe(true);
      expect(r.exact5).toBeGreaterThanOrEqual(r.exact1);
      expect(r.pixelDistance).toBeGreaterThan(0);
    }
    // The sheet's pictures: 2 sources × 2 images at each keepRows.
    expect(run.pictures.get(6)!.map((p) => p.length)).toEqual([2, 2]);
    expect(run.pictures.get(6)![0][0].length).toBe(vq.config.imageSize ** 2 * 3);
  });

  it("sees a sampler that does not feed the prefix", async () => {
    const real = await groupSamplerFor("tfjs");
    const dropsPrefix: GroupSampler = (m, groups, nul, o) =>
      real(
        m,
        groups.map((g) => ({ ...g, prefix: undefined })),
        nul,
        o,
      );
    const run = await runCompletion(args(dropsPrefix));
    expect(run.rows[0].keptExact).toBe(1); // nothing to keep
    expect(run.rows[2].keptExact).toBeLessThan(1);
  });

  it("previews what was kept: the source's rows, grey below", async () => {
    const [codes] = sourceCodesOf(vq, shard, sources.slice(1, 2));
    const preview = await keptPreview(vq, codes, 2);
    const s = vq.config.imageSize;
    const from = ((2 * s) / vq.grid) * s * 3;
    expect(Array.from(preview.subarray(from)).every((v) => v === 200)).toBe(true);
    expect(Array.from(preview.subarray(0, from)).some((v) => v !== 200)).toBe(true);
  });
});
