// Small real builds of both sets into a temp folder, read back through the same loader the trainers use.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captionsFor, datasetHash, loadSplit, readCaptions, readManifest } from "../../lib/data/manifest";
import { imageAt } from "../../lib/data/shard";
import { scoreImage } from "../../lib/data/shapes/score";
import { buildEmoji, rasteriseAll, type Job } from "./build-emoji";
import { buildShapes } from "./build-shapes";
import { DEFAULT_EMOJI_SPLIT } from "./emoji-splits";
import { EMOJI_STYLES } from "./emoji-sources";
import { contactSheet } from "./preview";

let dir: string;
const quiet = () => {};
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-data-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("emoji build", () => {
  it("rasterises, splits and writes a dataset the loader reads back", async () => {
    const out = path.join(dir, "emoji");
    const manifest = await buildEmoji({ outDir: out, sizes: [32, 64], split: DEFAULT_EMOJI_SPLIT, concurrency: 4, limitPerSet: 40, log: quiet });
    expect(manifest.counts.train + manifest.counts.val + manifest.counts.test).toBe(160);
    expect(manifest.sources.map((s) => s.license)).toEqual(["Apache-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "MIT", "MIT"]);
    expect(readManifest(out)).toEqual(manifest);

    const captions = readCaptions(out);
    expect(captions).toHaveLength(160);
    expect(captions[0].caption).toMatch(/^.+, (noto|twemoji|openmoji|fluent)$/);
    const train64 = loadSplit(out, "train", 64);
    expect(train64.count).toBe(manifest.counts.train);
    // A rasterised emoji is not a blank white square.
    const pixels = imageAt(train64, 0);
    expect(pixels.some((v) => v < 200)).toBe(true);
    expect(captionsFor(captions, "train").map((c) => c.index)).toEqual(Array.from({ length: train64.count }, (_, i) => i));

    const sheet = path.join(out, "preview", "train.png");
    expect(await contactSheet(out, "train", sheet)).toBeGreaterThan(0);
    expect(fs.statSync(sheet).size).toBeGreaterThan(1000);
  });

  it("adds the supplementary styles as training pictures only, marked, with the core items unchanged", async () => {
    const out = path.join(dir, "emoji-plus");
    const manifest = await buildEmoji({ outDir: out, sizes: [32], split: DEFAULT_EMOJI_SPLIT, concurrency: 4, limitPerSet: 40, supplementary: true, log: quiet });
    const extra = EMOJI_STYLES.filter((s) => s.supplementary).map((s) => s.style);
    expect(manifest.sources.map((s) => s.name)).toEqual([...EMOJI_STYLES.map((s) => s.style), "labels"]);
    const captions = readCaptions(out);
    const supplementary = captions.filter((c) => c.meta.supplementary === true);
    expect(supplementary).toHaveLength(40 * extra.length);
    for (const c of supplementary) {
      expect(c.split).toBe("train");
      expect(extra).toContain(c.meta.style);
    }
    // The core items keep the splits and captions of a build without the supplementary styles.
    const core = readCaptions(path.join(dir, "emoji")).map((c) => `${c.caption}|${c.split}`);
    expect(captions.filter((c) => c.meta.supplementary !== true).map((c) => `${c.caption}|${c.split}`)).toEqual(core);
  });

  it("skips and reports an SVG that fails to render", async () => {
    const job = (svg: string, iconName: string): Job => ({ style: EMOJI_STYLES[0], match: { entry: { hexcode: "1", label: "x", tags: [] }, iconName, via: "codepoint" }, svg });
    const good = '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="16" height="16" fill="red"/></svg>';
    const { rasters, skipped } = await rasteriseAll([job(good, "good"), job("<svg><unclosed", "bad")], [32], 2);
    expect(rasters[0]?.get(32)?.length).toBe(32 * 32 * 3);
    expect(rasters[1]).toBeUndefined();
    expect(skipped).toEqual([{ style: "noto", icon: "bad", error: expect.any(String) }]);
  });

  it("says which output folder cannot be written", async () => {
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    await expect(
      buildEmoji({ outDir: path.join(file, "emoji"), sizes: [32], split: DEFAULT_EMOJI_SPLIT, concurrency: 2, limitPerSet: 2, log: quiet }),
    ).rejects.toThrow(/cannot write to the output folder .*a-file/);
  });
});

describe("shapes build", () => {
  it("writes renderer images the scorer passes, with held-out pairs only in test", () => {
    const out = path.join(dir, "shapes");
    const manifest = buildShapes({ outDir: out, seed: 7, counts: { train: 200, val: 20, test: 30 }, log: quiet });
    expect(manifest.counts).toEqual({ train: 200, val: 20, test: 30 });
    const captions = readCaptions(out);
    for (const split of ["train", "test"] as const) {
      const shard = loadSplit(out, split, 32);
      for (const c of captionsFor(captions, split)) expect(scoreImage(imageAt(shard, c.index), c.caption).pass).toBe(true);
    }
  });

  it("replaces an earlier build of the same folder completely", () => {
    const out = path.join(dir, "shapes-twice");
    buildShapes({ outDir: out, seed: 1, counts: { train: 50, val: 5, test: 5 }, log: quiet });
    fs.writeFileSync(path.join(out, "stale.txt"), "left over");
    buildShapes({ outDir: out, seed: 1, counts: { train: 40, val: 5, test: 5 }, log: quiet });
    expect(fs.existsSync(path.join(out, "stale.txt"))).toBe(false);
    expect(readManifest(out).counts.train).toBe(40);
  });

  it("has one data hash for the same data built twice, and another when a caption changes", async () => {
    const build = (name: string) => {
      const out = path.join(dir, name);
      buildShapes({ outDir: out, seed: 3, counts: { train: 30, val: 5, test: 5 }, log: quiet });
      return out;
    };
    const a = build("hash-a");
    await new Promise((r) => setTimeout(r, 5)); // another build time
    const b = build("hash-b");
    expect(readManifest(a).createdAt).not.toBe(readManifest(b).createdAt);
    expect(datasetHash(b)).toBe(datasetHash(a));
    const file = path.join(b, "captions.jsonl");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("circle", "square"));
    expect(datasetHash(b)).not.toBe(datasetHash(a));
    expect(() => datasetHash(path.join(dir, "nothing"))).toThrow(/npm run data/);
  });
});
