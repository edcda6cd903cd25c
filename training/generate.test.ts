// The command-line generator against a real (tiny, untrained) model folder: files, reproducibility, the model's
// defaults, reranking with a CLIP, and the errors a user sees.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CANDIDATES_FALLBACK } from "../lib/generate/params";
import { initBackend } from "../lib/tensor/backend";
import { writeTinyClip } from "../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../test/fixtures/tiny-model";
import { generateMain, promptSlug, resolveModelDir, type GenerateSummary } from "./generate";

let dir: string;
let model: string;
let withClip: string;
let withDefaults: string;

beforeAll(async () => {
  await initBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-generate-"));
  model = path.join(dir, "model");
  await writeTinyModelFolder(model);
  withClip = path.join(dir, "with-clip");
  fs.cpSync(model, withClip, { recursive: true });
  await writeTinyClip(withClip);
  // A model that has measured its sampling settings, as `eval:gpt --write-defaults` stores them.
  withDefaults = path.join(dir, "with-defaults");
  fs.cpSync(model, withDefaults, { recursive: true });
  const file = path.join(withDefaults, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  manifest.extra.sampling = { guidance: 2.5, temperature: 0.9, topK: null };
  fs.writeFileSync(file, JSON.stringify(manifest));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process; returns its summary and what it wrote to stdout and stderr. */
async function run(...argv: string[]): Promise<{ summary: GenerateSummary; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const err = { isTTY: false, write: (s: string) => ((stderr += s), true) } as unknown as NodeJS.WriteStream;
  const summary = await generateMain(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: err });
  return { summary, stdout, stderr };
}

let outs = 0;
const freshOut = () => path.join(dir, `out-${outs++}`);
const bytes = (files: string[]) => files.map((f) => fs.readFileSync(f));

describe("npm run generate", () => {
  it("writes n PNGs at the model's size and an upscaled grid, shows progress, and prints one JSON line", async () => {
    const out = freshOut();
    const { summary, stdout, stderr } = await run("Red heart,", "noto", "--n", "3", "--seed", "5", "--model", model, "--out", out);
    expect(fs.readdirSync(out).sort()).toEqual([
      "red-heart-noto-5-0.png",
      "red-heart-noto-5-1.png",
      "red-heart-noto-5-2.png",
      "red-heart-noto-5-grid.png",
    ]);
    for (const f of summary.files.images) {
      const meta = await sharp(f).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["png", 32, 32]);
    }
    // 2 × 2 cells of 32 × 4 px with 2 px gaps.
    const grid = await sharp(summary.files.grid).metadata();
    expect([grid.format, grid.width, grid.height]).toEqual(["png", 2 * (32 * 4 + 2) + 2, 2 * (32 * 4 + 2) + 2]);
    expect(stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(stdout)).toEqual(summary);
    expect(summary).toMatchObject({
      prompt: "Red heart, noto",
      seed: 5,
      // The tiny model measured nothing: the fallback, and no CLIP so no candidates.
      settings: { n: 3, guidance: 1.5, temperature: 0.7, topK: 0, candidates: null },
      samplingDefaults: "fallback",
      scores: null,
    });
    expect(summary.timingsMs.total).toBeGreaterThan(0);
    expect(stderr).toMatch(/\[#{24}\] 100% 64\/64/);
  });

  it("gives byte-identical images for the same seed, different ones for another seed", async () => {
    const a = await run("grinning cat", "--n", "2", "--seed", "11", "--model", model, "--out", freshOut());
    const b = await run("grinning cat", "--n", "2", "--seed", "11", "--model", model, "--out", freshOut());
    const c = await run("grinning cat", "--n", "2", "--seed", "12", "--model", model, "--out", freshOut());
    expect(bytes(b.summary.files.images)).toEqual(bytes(a.summary.files.images));
    expect(bytes(c.summary.files.images)).not.toEqual(bytes(a.summary.files.images));
  });

  it("draws a random seed when none is given, prints it, and --seed gets the same images again", async () => {
    const a = await run("waving hand", "--n", "1", "--model", model, "--out", freshOut());
    expect(a.stderr).toContain(`--seed ${a.summary.seed}`);
    expect(a.summary.files.images[0]).toContain(`-${a.summary.seed}-0.png`);
    const b = await run("waving hand", "--n", "1", "--seed", String(a.summary.seed), "--model", model, "--out", freshOut());
    expect(bytes(b.summary.files.images)).toEqual(bytes(a.summary.files.images));
  });

  it("fills unset settings from the model's manifest, and flags override them", async () => {
    const a = await run("red apple", "--n", "1", "--seed", "1", "--model", withDefaults, "--out", freshOut());
    expect(a.summary.settings).toEqual({ n: 1, guidance: 2.5, temperature: 0.9, topK: 0, candidates: null });
    expect(a.summary.samplingDefaults).toBe("manifest");
    const b = await run(
      "red apple",
      "--n",
      "1",
      "--seed",
      "1",
      "--guidance",
      "1",
      "--top-k",
      "4",
      "--model",
      withDefaults,
      "--out",
      freshOut(),
    );
    expect(b.summary.settings).toEqual({ n: 1, guidance: 1, temperature: 0.9, topK: 4, candidates: null });
  });

  it("with a CLIP, samples CANDIDATES_FALLBACK.default candidates by default and keeps the n best, scored", async () => {
    const { summary } = await run("red heart", "--n", "2", "--seed", "3", "--model", withClip, "--out", freshOut());
    expect(summary.settings.candidates).toBe(CANDIDATES_FALLBACK.default);
    expect(summary.files.images).toHaveLength(2);
    expect(summary.scores?.kept).toHaveLength(2);
    expect(summary.scores?.rejected).toHaveLength(CANDIDATES_FALLBACK.default - 2);
    const all = [...summary.scores!.kept, ...summary.scores!.rejected];
    expect(all).toEqual([...all].sort((x, y) => y - x));
    const few = await run("red heart", "--n", "2", "--seed", "3", "--candidates", "4", "--model", withClip, "--out", freshOut());
    expect(few.summary.settings.candidates).toBe(4);
    expect(few.summary.scores?.rejected).toHaveLength(2);
  });

  it("refuses bad flags with the usage, and bad values with the API's own message", async () => {
    const go = (...argv: string[]) => run(...argv, "--model", model, "--out", freshOut());
    await expect(go("cat", "--count", "2")).rejects.toThrow(/^unknown flag --count\nusage: npm run generate/);
    await expect(go("cat", "--n", "12")).rejects.toThrow(/^--n: n must be a whole number 1–9\nusage:/);
    await expect(go("cat", "--n")).rejects.toThrow(/^--n: n must be a whole number 1–9\nusage:/);
    await expect(go("cat", "--top-k", "lots")).rejects.toThrow(/^--top-k: topK must be a whole number 0–512\nusage:/);
    await expect(go("cat", "--temperature", "")).rejects.toThrow(/^--temperature: temperature must be a number 0.1–2\nusage:/);
    await expect(go("cat", "--n", "4", "--candidates", "2")).rejects.toThrow(/^--candidates: candidates must be at least n \(4\)/);
    await expect(go("   ", "--n", "1")).rejects.toThrow(/^prompt: the prompt is empty\nusage:/);
    await expect(run()).rejects.toThrow(/^usage: npm run generate/);
  });

  it("names a missing or broken model folder in one line; a bare name means models/<name>", async () => {
    expect(resolveModelDir("default")).toBe(path.join("models", "default"));
    expect(resolveModelDir("./default")).toBe("./default");
    expect(resolveModelDir(model)).toBe(model);
    const missing = path.join(dir, "nothing-here");
    await expect(run("cat", "--model", missing)).rejects.toThrow(
      new RegExp(`^no model folder at ${missing} \\(it needs manifest\\.json[^\\n]*$`),
    );
    await expect(run("cat", "--model", "no-such-model")).rejects.toThrow(`no model folder at ${path.join("models", "no-such-model")} `);
    const broken = path.join(dir, "broken");
    fs.cpSync(model, broken, { recursive: true });
    fs.rmSync(path.join(broken, "image-tokenizer"), { recursive: true });
    await expect(run("cat", "--model", broken)).rejects.toThrow(new RegExp(`^cannot load the model in ${broken}: [^\\n]+$`));
  });

  it("exits 1 with the one-line message as a command", () => {
    // One real process (slow to start): runMain's exit code and output, which an in-process call cannot show.
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join("training", "generate.ts"), "cat", "--model", path.join(dir, "nope")],
      {
        encoding: "utf8",
        env: { ...process.env, TESSERA_BACKEND: "wasm" },
      },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toMatch(/^\[generate\] no model folder at \S+nope \(it needs manifest\.json[^\n]*$/);
  });

  it("names files after the prompt, ASCII only and short", () => {
    expect(promptSlug("A Red Heart, noto!")).toBe("a-red-heart-noto");
    expect(promptSlug("Café au lait")).toBe("cafe-au-lait");
    expect(promptSlug("猫, noto")).toBe("noto");
    expect(promptSlug("❤️")).toBe("image");
    expect(promptSlug("x ".repeat(100)).length).toBeLessThanOrEqual(60);
  });

  it("leaks no tensors", async () => {
    await run("grinning face", "--n", "1", "--seed", "2", "--model", withClip, "--out", freshOut());
    const before = tf.memory().numTensors;
    await run("grinning face", "--n", "2", "--seed", "2", "--candidates", "3", "--model", withClip, "--out", freshOut());
    expect(tf.memory().numTensors).toBe(before);
  });
});
