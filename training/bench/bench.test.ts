// `npm run bench -- --smoke` end to end (tiny models for the model rows; the real server with the shipped model for
// the HTTP rows, one request per client, 1 or 2 clients): the JSON has every number the README's table shows. Its
// speed is the benchmark's business, not this test's. The training-loop rows (1 vs N workers) are left out here:
// they need minutes, and the loop's maths is tested in training/loop/.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { folderHasClip } from "../../lib/generate/model-bundle";
import { generationRows, percentile, rowKey } from "./http";

const run = promisify(execFile);

describe("bench", () => {
  it("takes nearest-rank percentiles", () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(percentile([7], 95)).toBe(7);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });

  it("measures 1, 8 and 32 clients (4 images on two servers), and the reranked row only with a CLIP", () => {
    const keys = (o: Parameters<typeof generationRows>[0]) => generationRows(o).map(rowKey);
    expect(keys({ smoke: false, twoServers: false, rerank: true })).toEqual([
      "images1_clients1",
      "images1_clients8",
      "images4_clients1",
      "images4_clients8",
      "images4_clients32",
      "images4_clients1_candidates16",
    ]);
    expect(keys({ smoke: false, twoServers: false, rerank: false })).not.toContain("images4_clients1_candidates16");
    expect(keys({ smoke: false, twoServers: true, rerank: true })).toEqual(["images4_clients1", "images4_clients8", "images4_clients32"]);
    expect(keys({ smoke: true, twoServers: false, rerank: false })).toEqual([
      "images1_clients1",
      "images1_clients2",
      "images4_clients1",
      "images4_clients2",
    ]);
  });

  // Generous limits: on a busy machine (a training job on both cores) the quick bench alone has taken > 280 s.
  it("--smoke writes results with every measured figure", { timeout: 620_000 }, async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tessera-bench-")), "results.json");
    await run(path.join("node_modules", ".bin", "tsx"), ["training/bench.ts", "--smoke", "--no-training", "--out", out], {
      timeout: 600_000,
    });
    const r = JSON.parse(fs.readFileSync(out, "utf8"));
    const positive = expect.any(Number);
    expect(r).toMatchObject({
      backend: expect.any(String),
      quick: true,
      smoke: true,
      matmul1024Gflops: positive,
      imageTokenizer: { encodeImagesPerS: positive, decodeImagesPerS: positive, trainImagesPerS: positive },
      transformer: {
        generationTokensPerS: { cacheB1: positive, cacheB8: positive, noCacheB1: positive, noCacheB8: positive },
        trainTokensPerS: positive,
        achievedGflops: { generationB1: positive, generationB8: positive, training: positive },
      },
      http: { healthUnderLoad: { p50Ms: positive, p95Ms: positive }, peakRssMiB: positive },
    });
    // The served model (models/default) reranks when its folder carries a CLIP: then the issue-16 row (4 images from
    // 16 candidates, one client) is measured too.
    const reranks = folderHasClip(path.join("models", "default"));
    expect(Object.keys(r.http.generation).sort()).toEqual([
      "images1_clients1",
      "images1_clients2",
      "images4_clients1",
      ...(reranks ? ["images4_clients1_candidates16"] : []),
      "images4_clients2",
    ]);
    expect(r.http).toMatchObject({ servers: 1, database: "sqlite" });
    expect(r.httpTwoServers).toBeNull();
    for (const v of Object.values(r.http.generation) as { p95Ms: number; imagesPerS: number }[]) {
      expect(v.p95Ms).toBeGreaterThan(0);
      expect(v.imagesPerS).toBeGreaterThan(0);
    }
    expect(r.matmul1024Gflops).toBeGreaterThan(0);
  });
});
