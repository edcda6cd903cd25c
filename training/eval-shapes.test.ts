// `npm run eval:shapes` end to end on a tiny shapes set and a tiny real model folder: the real images grade as
// right, every row covers each caption × images, the setting is chosen on val, and the contact sheet is drawn.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captionsFor, readCaptions } from "../lib/data/manifest";
import { writeTinyModelFolder } from "../test/fixtures/tiny-model";
import { buildShapes } from "./data/build-shapes";

let dir: string;
const run = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", path.join("training", "eval-shapes.ts"), ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-eval-shapes-"));
  buildShapes({ outDir: path.join(dir, "data"), seed: 3, counts: { train: 40, val: 8, test: 12 }, log: () => {} });
  const captions = readCaptions(path.join(dir, "data")).map((r) => r.caption);
  await writeTinyModelFolder(path.join(dir, "model"), 16, 2, { captions, textLen: 16 });
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("eval:shapes", () => {
  it("grades real images, reconstructions and every sampling setting, and picks the setting on val", () => {
    const json = path.join(dir, "eval.json");
    const sheet = path.join(dir, "sheet.png");
    const r = run(
      path.join(dir, "model"),
      "--data",
      path.join(dir, "data"),
      "--images",
      "2",
      "--guidance",
      "1,2",
      "--train-prompts",
      "6",
      "--json",
      json,
      "--sheet",
      sheet,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(fs.readFileSync(json, "utf8"));
    // The renderer's own images pass the exact scorer (it is tested to ≥ 99 %); 12 test captions, 6 val, 6 train.
    expect(out.prompts).toEqual({ heldout: 12, val: 6, train: 6 });
    expect(out.real.heldout.images).toBe(12);
    expect(out.real.heldout.allCorrect.rate).toBeGreaterThanOrEqual(11 / 12);
    expect(out.real.train.allCorrect.rate).toBeGreaterThanOrEqual(5 / 6);
    // Every test caption holds a held-out pair, so the pairs' objects add up to at least one per caption.
    const pairs = Object.values(out.real.heldout.byHeldOutPair) as { pairCorrect: { n: number } }[];
    expect(pairs).toHaveLength(8);
    expect(pairs.reduce((a, p) => a + p.pairCorrect.n, 0)).toBeGreaterThanOrEqual(12);
    expect(out.ceiling.heldout.images).toBe(12);
    // Two settings × (2 images of each caption); the pick is the best val row.
    expect(out.sweep).toHaveLength(2);
    for (const row of out.sweep) {
      expect(row.sets.heldout.images).toBe(24);
      expect(row.sets.val.images).toBe(12);
      expect(row.sets.heldout.byAttribute.count.n).toBe(24);
    }
    const bestVal = Math.max(...out.sweep.map((s: { sets: { val: { allCorrect: { rate: number } } } }) => s.sets.val.allCorrect.rate));
    const picked = out.sweep.find((s: { guidance: number }) => s.guidance === out.best.guidance);
    expect(picked.sets.val.allCorrect.rate).toBe(bestVal);
    expect(out.rerank).toBeNull(); // the tiny folder carries no CLIP
    expect(fs.statSync(sheet).size).toBeGreaterThan(1000);
    expect(r.stdout).toMatch(/\| held-out test: real images \| 12 \|/);
  }, 120_000);

  it("refuses a dataset that is not the shapes set, in one line", () => {
    const emojiLike = path.join(dir, "not-shapes");
    fs.mkdirSync(emojiLike, { recursive: true });
    const m = JSON.parse(fs.readFileSync(path.join(dir, "data", "manifest.json"), "utf8"));
    fs.writeFileSync(path.join(emojiLike, "manifest.json"), JSON.stringify({ ...m, notes: {} }));
    const r = run(path.join(dir, "model"), "--data", emojiLike);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/names no held-out pairs/);
    expect(captionsFor(readCaptions(path.join(dir, "data")), "test")).toHaveLength(12);
  }, 60_000);
});
