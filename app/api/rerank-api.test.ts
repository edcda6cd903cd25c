// The generation API with a model folder that carries a CLIP: requests rerank by default (CANDIDATES_DEFAULT), the
// job reports its scores and the rejected candidates, and the server's cap (CANDIDATES_MAX) holds.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { GalleryQuery, listGallery } from "@/lib/gallery";
import { getHealth } from "@/lib/health";
import { selectBackend } from "@/lib/tensor/backend";
import { writeTinyClip } from "@/test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { POST as postGeneration } from "./generations/route";

let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const post = (body: unknown) =>
  postGeneration(
    new Request("http://t/api/generations", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", [CLIENT_HEADER]: clientIdForAddress("10.0.0.9") },
    }),
  );

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-rerank-api-");
  process.env.CANDIDATES_DEFAULT = "5";
  process.env.CANDIDATES_MAX = "6";
  process.env.PARTIAL_EVERY = "0";
  await writeTinyModelFolder(path.join(dir, "model"));
  await writeTinyClip(path.join(dir, "model"));
});
afterAll(() => stopService(dir));

describe("API with a CLIP in the model", () => {
  it("reranks the server's default number of candidates and serves the scores and the rejected ones", async () => {
    const res = await post({ prompt: "red heart", n: 2, seed: 1 });
    expect(res.status).toBe(202);
    const { id, candidates, rerank } = await res.json();
    expect({ candidates, rerank }).toEqual({ candidates: 5, rerank: true });
    await new Response((await getEvents(new Request("http://t"), ctx(id))).body).text();
    const job = await (await getGeneration(new Request("http://t"), ctx(id))).json();
    expect(job).toMatchObject({ status: "done", candidates: 5, params: { n: 2, candidates: 5 } });
    expect(job.images).toHaveLength(2);
    expect(job.rejected).toHaveLength(3);
    for (const img of [...job.images, ...job.rejected]) {
      expect(typeof img.score).toBe("number");
      expect(img.url).toBe(`/api/images/${img.id}`);
    }
    expect(Math.min(...job.images.map((i: { score: number }) => i.score))).toBeGreaterThanOrEqual(
      Math.max(...job.rejected.map((i: { score: number }) => i.score)),
    );
    expect(Object.keys(job.timings)).toContain("rerankMs");
    // The health report says requests are reranked (the bench reads it to add its candidates row).
    expect((await getHealth()).model).toMatchObject({ active: "model", rerank: true });
  });

  it("the gallery searches by meaning with the active model's CLIP, and by text otherwise", async () => {
    const done = await getDb().generation.findMany({ where: { status: "done" }, select: { id: true } });
    const meaning = await listGallery(getDb(), GalleryQuery.parse({ q: "no prompt says this", by: "meaning" }));
    // Every finished generation of the active model is ranked, whatever its prompt says; covers are kept images.
    expect(meaning.meaning?.on).toBe(true);
    expect(meaning.items.map((i) => i.id).sort()).toEqual(done.map((d) => d.id).sort());
    expect(Object.values(meaning.meaning!.similarity).every((v) => v >= -1 && v <= 1)).toBe(true);
    const rejected = await getDb().image.findMany({ where: { rejected: true }, select: { id: true } });
    expect(meaning.items.some((i) => rejected.some((r) => r.id === i.images[0].id))).toBe(false);
    const text = await listGallery(getDb(), GalleryQuery.parse({ q: "no prompt says this", by: "nonsense" }));
    expect([text.meaning, text.total]).toEqual([null, 0]);
  });

  it("holds candidates to the server's cap and to n", async () => {
    const bad = await post({ prompt: "red heart", candidates: 7 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toBe("candidates must be a whole number 1–6");
    const ok = await post({ prompt: "red heart", n: 1, candidates: 6 });
    expect((await ok.json()).candidates).toBe(6);
  });
});
