// The VAE thread pool (issue 30 part 3): the queue's limits, checked at once (429 + Retry-After), and waiting
// requests served round-robin across clients rather than first-come. All requests here are posted in one tick, so
// what is admitted and the order they run in do not depend on timing.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpError } from "../api";
import { writeTinyVae } from "../../test/fixtures/tiny-vae";
import { VaeThreads, type VaeTask } from "./vae-threads";

let dir: string;
let vaeDir: string;
let png: Uint8Array;
const pools: VaeThreads[] = [];
const pool = (o: { limit: number; perClientLimit: number }) => {
  const p = new VaeThreads({ threads: 1, ...o });
  pools.push(p);
  return p;
};
const task = (seed: number): VaeTask => ({ kind: "variations", dir: vaeDir, png, k: 1, scale: 1, seed });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vae-threads-"));
  vaeDir = await writeTinyVae(path.join(dir, "model"));
  png = await sharp({ create: { width: 32, height: 32, channels: 3, background: "#c04040" } })
    .png()
    .toBuffer();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("VAE threads", () => {
  it("refuses a client beyond QUEUE_LIMIT_PER_CLIENT and everyone beyond QUEUE_LIMIT, at once, with Retry-After", async () => {
    const p = pool({ limit: 5, perClientLimit: 2 });
    const settle = (r: Promise<unknown>) =>
      r.then(
        () => 200,
        (e: unknown) => e as HttpError,
      );
    const a = [settle(p.run(task(1), "a")), settle(p.run(task(2), "a")), settle(p.run(task(3), "a"))];
    const others = ["b", "b", "c", "d"].map((c, i) => settle(p.run(task(10 + i), c)));
    const [ra, ro] = [await Promise.all(a), await Promise.all(others)];
    expect(ra.slice(0, 2)).toEqual([200, 200]);
    expect(ra[2]).toBeInstanceOf(HttpError);
    expect(ra[2]).toMatchObject({ status: 429, headers: { "Retry-After": expect.stringMatching(/^\d+$/) } });
    expect((ra[2] as HttpError).message).toMatch(/you already have 2 variations or blends waiting.*QUEUE_LIMIT_PER_CLIENT/);
    // b, b and c fill QUEUE_LIMIT (5); d is refused by the global cap.
    expect(ro.slice(0, 3)).toEqual([200, 200, 200]);
    expect(ro[3]).toMatchObject({
      status: 429,
      message: expect.stringMatching(/busy with 5 variations and blends \(the limit QUEUE_LIMIT\)/),
    });
    // Everything has finished: the limits are free again.
    expect((await p.run(task(20), "a")).images).toHaveLength(1);
  });

  it("runs on a worker thread, and starts waiting requests round-robin across clients, not first-come", async () => {
    const p = pool({ limit: 20, perClientLimit: 4 });
    const order: string[] = [];
    const runs = [
      ["a", 1],
      ["a", 2],
      ["a", 3],
      ["b", 1],
      ["c", 1],
      ["b", 2],
    ].map(([c, n]) => p.run(task(Number(n)), String(c)).then((r) => (order.push(`${c}${n}`), r)));
    const results = await Promise.all(runs);
    // a1 starts at once; then each client with something waiting gets a turn in the order it arrived.
    expect(order).toEqual(["a1", "b1", "c1", "a2", "b2", "a3"]);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(1);
    expect(results[0].threadId).toBeGreaterThan(0);
  });
});
