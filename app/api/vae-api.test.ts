// POST /api/images/[id]/variations and POST /api/blend against a real SQLite database, real generated images and a
// real (tiny, untrained) VAE in the active model's folder: answers, seeds, the 400/404/503 errors, no tensor left
// behind by either entry point, the tensor work on a VAE thread (never this, the main thread; the pool's limits and
// order are in lib/generate/vae-threads.test.ts), a retrained VAE picked up without a restart, and the tools
// withheld when eval:lab found that this VAE's variations lose the picture.
import fs from "node:fs";
import path from "node:path";
import { threadId } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { generationService } from "@/lib/generate/service";
import { disposeVaeCache, MIN_VARIATION_KEEP, vaeAvailability, vaeBlend, vaeDirOf, vaeVariations } from "@/lib/generate/vae-edit";
import { stopVaeThreads } from "@/lib/generate/vae-threads";
import { selectBackend } from "@/lib/tensor/backend";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { writeTinyVae } from "@/test/fixtures/tiny-vae";
import { GET as getBlend, POST as postBlend } from "./blend/route";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { POST as postGeneration } from "./generations/route";
import { POST as postVariations } from "./images/[id]/variations/route";

let dir: string;
let modelDir: string;
let generationId: string;
let imageIds: string[];
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const json = (body: unknown) => ({
  method: "POST",
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "Content-Type": "application/json" },
});
const variations = (id: string, body: unknown = {}) =>
  postVariations(new Request(`http://t/api/images/${id}/variations`, json(body)), ctx(id));
const blend = (body: unknown) => postBlend(new Request("http://t/api/blend", json(body)));

async function pngsOf(urls: string[]): Promise<{ width?: number; height?: number; raw: Buffer }[]> {
  return Promise.all(
    urls.map(async (u) => {
      expect(u).toMatch(/^data:image\/png;base64,/);
      const png = Buffer.from(u.slice(u.indexOf(",") + 1), "base64");
      const meta = await sharp(png).metadata();
      return { width: meta.width, height: meta.height, raw: await sharp(png).raw().toBuffer() };
    }),
  );
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-vae-api-");
  process.env.PARTIAL_EVERY = "0";
  modelDir = path.join(dir, "model");
  await writeTinyModelFolder(modelDir);
  // Two images to edit: a real generation of the tiny model.
  const res = await postGeneration(
    new Request("http://t/api/generations", {
      ...json({ prompt: "red heart", n: 2, seed: 3 }),
      headers: { "Content-Type": "application/json", [CLIENT_HEADER]: clientIdForAddress("10.0.0.7") },
    }),
  );
  generationId = (await res.json()).id;
  await new Response((await getEvents(new Request("http://t"), ctx(generationId))).body).text();
  const job = await (await getGeneration(new Request("http://t"), ctx(generationId))).json();
  imageIds = job.images.map((i: { id: string }) => i.id);
  expect(imageIds).toHaveLength(2);
});
afterAll(async () => {
  await stopVaeThreads();
  disposeVaeCache();
  await stopService(dir);
});

describe("VAE tools API", () => {
  it("is off (503, and the page is told why) while the active model has no VAE", async () => {
    const off = await vaeAvailability(getDb());
    expect(off).toMatchObject({ on: false, reason: expect.stringMatching(/the active model model has no VAE .*train:lab/) });
    for (const res of [await variations(imageIds[0]), await blend({ a: imageIds[0], b: imageIds[1] })]) {
      expect(res.status).toBe(503);
      expect((await res.json()).error.message).toMatch(/^variations and blends are off: the active model model has no VAE/);
    }
  });

  it("answers k variations as 32×32 PNG data URLs, repeatable by seed, and scale 0 gives k equal images", async () => {
    await writeTinyVae(modelDir);
    expect(await vaeAvailability(getDb())).toMatchObject({ on: true, model: "model", dir: vaeDirOf(modelDir) });
    const res = await variations(imageIds[0], { k: 4, scale: 2, seed: 11 });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ k: 4, scale: 2, seed: 11, model: "model" });
    expect(typeof body.ms).toBe("number");
    const imgs = await pngsOf(body.images);
    expect(imgs.map((i) => [i.width, i.height])).toEqual(Array(4).fill([32, 32]));
    expect(imgs[0].raw.equals(imgs[1].raw)).toBe(false);
    const again = await (await variations(imageIds[0], { k: 4, scale: 2, seed: 11 })).json();
    expect(again.images).toEqual(body.images);
    // Defaults: k 8, scale 1, and a seed the server picked and reports.
    const defaults = await (await variations(imageIds[0])).json();
    expect([defaults.images.length, defaults.scale, Number.isInteger(defaults.seed)]).toEqual([8, 1, true]);
    const still = await pngsOf((await (await variations(imageIds[0], { k: 3, scale: 0 })).json()).images);
    expect(still[0].raw.equals(still[2].raw)).toBe(true);
  });

  it("answers a blend strip of `steps` frames; an image's generation id stands for its first image", async () => {
    const res = await blend({ a: imageIds[0], b: imageIds[1], steps: 5 });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ steps: 5, model: "model" });
    const frames = await pngsOf(body.images);
    expect(frames).toHaveLength(5);
    // The ends are the two images' reconstructions: the same as variations at scale 0.
    const recon = async (id: string) => (await pngsOf((await (await variations(id, { k: 1, scale: 0 })).json()).images))[0].raw;
    expect(frames[0].raw.equals(await recon(imageIds[0]))).toBe(true);
    expect(frames[4].raw.equals(await recon(imageIds[1]))).toBe(true);
    const byGeneration = await (await blend({ a: generationId, b: imageIds[1], steps: 5 })).json();
    expect(byGeneration.images).toEqual(body.images);
  });

  it("rejects bad bodies with 400 and a clear message, unknown images with 404", async () => {
    for (const [body, message] of [
      [{ k: 0 }, "k must be a whole number 1–16"],
      [{ k: 17 }, "k must be a whole number 1–16"],
      [{ k: "4" }, "k must be a whole number 1–16"],
      [{ scale: 3.5 }, "scale must be a number 0–3"],
      [{ seed: -1 }, "seed must be a whole number 0–2147483647"],
      [{ kk: 1 }, "unknown field: kk"],
      [[1], "the body must be a JSON object {k?, scale?, seed?}"],
      ["nope", "the request body must be JSON"],
    ] as const) {
      const res = await variations(imageIds[0], body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { status: 400, message } });
    }
    for (const [body, message] of [
      [{ a: imageIds[0] }, "b is required"],
      [{ a: imageIds[0], b: "../x" }, "b must be an image id (letters, digits, - and _), as in /api/images/<id>"],
      [{ a: imageIds[0], b: imageIds[1], steps: 2 }, "steps must be a whole number 3–16"],
      [{ a: imageIds[0], b: imageIds[1], steps: 17 }, "steps must be a whole number 3–16"],
    ] as const) {
      const res = await blend(body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toBe(message);
    }
    for (const res of [await variations("nope"), await variations("bad id!"), await blend({ a: imageIds[0], b: "nope" })]) {
      expect(res.status).toBe(404);
      expect((await res.json()).error.message).toMatch(/^no image with id (nope|given)$/);
    }
    expect((await getBlend()).status).toBe(405);
  });

  it("does the tensor work on a VAE thread: the web thread's tfjs never holds a tensor of it, and the thread leaks none", async () => {
    const mainTensors = tf.memory().numTensors;
    const first = await vaeVariations(getDb(), imageIds[0], { k: 2, scale: 1, seed: 1 }, "c1");
    expect(first.ranOn.threadId).not.toBe(threadId);
    expect(first.ranOn.threadId).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      const v = await vaeVariations(getDb(), imageIds[0], { k: 3, scale: 1, seed: i }, "c1");
      const b = await vaeBlend(getDb(), { a: imageIds[0], b: imageIds[1], steps: 4 }, "c2");
      expect([v.ranOn.threadId, b.ranOn.threadId]).toEqual([first.ranOn.threadId, first.ranOn.threadId]);
      // Only the cached VAE's weights stay, request after request.
      expect([v.ranOn.tensors, b.ranOn.tensors]).toEqual([first.ranOn.tensors, first.ranOn.tensors]);
    }
    // Loaded here, the VAE's weights would be this thread's tensors.
    expect(tf.memory().numTensors).toBe(mainTensors);
  });

  it("loads a retrained VAE (a new manifest) without a restart, and frees the old one", async () => {
    const before = await vaeVariations(getDb(), imageIds[0], { k: 2, scale: 1, seed: 5 }, "c3");
    const first = before.body.images;
    // A different model in the same folder (another init seed) with a different manifest time.
    await new Promise((r) => setTimeout(r, 20));
    await writeTinyVae(modelDir, 9);
    const after = await vaeVariations(getDb(), imageIds[0], { k: 2, scale: 1, seed: 5 }, "c3");
    expect(after.body.images).not.toEqual(first);
    // The old VAE was disposed in the thread: the same number of weights, not twice as many.
    expect(after.ranOn.tensors).toBe(before.ranOn.tensors);
    fs.rmSync(vaeDirOf(modelDir), { recursive: true });
    expect((await variations(imageIds[0])).status).toBe(503);
    // The service keeps running jobs meanwhile: the generation worker is untouched.
    expect((await generationService()).worker).toBeTruthy();
  });

  it("is not offered when eval:lab measured that this VAE's variations lose the picture; numbers of other weights do not count", async () => {
    await writeTinyVae(modelDir, 4);
    const sha = JSON.parse(fs.readFileSync(path.join(vaeDirOf(modelDir), "manifest.json"), "utf8")).weights.sha256;
    const evalFile = path.join(modelDir, "lab", "eval-lab.json");
    const write = (keep: number, weights: string) =>
      fs.writeFileSync(evalFile, JSON.stringify({ rows: {}, vaeWeights: weights, variations: { VAE: { keepsFamilyPixels: keep } } }));
    try {
      write(MIN_VARIATION_KEEP - 0.05, sha);
      expect(await vaeAvailability(getDb())).toMatchObject({
        on: false,
        reason: expect.stringMatching(/does not make variations worth showing: only \d+ %/),
      });
      const res = await variations(imageIds[0]);
      expect(res.status).toBe(503);
      expect((await res.json()).error.message).toMatch(/keep their picture's label family \(npm run eval:lab/);
      // The same number measured on other weights (an older VAE) says nothing of this one.
      write(MIN_VARIATION_KEEP - 0.05, "0".repeat(64));
      expect(await vaeAvailability(getDb())).toMatchObject({ on: true });
      write(MIN_VARIATION_KEEP + 0.05, sha);
      expect(await vaeAvailability(getDb())).toMatchObject({ on: true });
      expect((await variations(imageIds[0], { k: 2 })).status).toBe(200);
    } finally {
      fs.rmSync(evalFile, { force: true });
    }
  });
});
