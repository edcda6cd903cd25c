// The API route handlers called as the server calls them, against a real SQLite database and a real (tiny) model
// folder; the worker runs in this process.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/lib/db/client";
import { migrate } from "@/lib/db/migrate";
import { generationService } from "@/lib/generate/service";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { selectBackend } from "@/lib/tensor/backend";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { POST as postGeneration } from "./generations/route";
import { GET as getImage } from "./images/[id]/route";

let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const post = (body: unknown) =>
  postGeneration(new Request("http://t/api/generations", { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "Content-Type": "application/json" } }));

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-api-"));
  process.env.DATABASE_URL = `file:${path.join(dir, "api.db")}`;
  process.env.TESSERA_MODEL_DIR = path.join(dir, "model");
  process.env.QUEUE_LIMIT = "3";
  process.env.PARTIAL_EVERY = "16";
  await migrate(process.env.DATABASE_URL);
  await writeTinyModelFolder(path.join(dir, "model"));
});
afterAll(async () => {
  const s = await generationService();
  await s.worker.stop();
  s.registry.dispose();
  await getDb().$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function readEvents(res: Response): Promise<string[]> {
  const text = await new Response(res.body).text();
  return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
}

describe("API", () => {
  it("accepts a prompt with 202, streams progress, and serves the finished job and its PNGs", async () => {
    const res = await post({ prompt: "  red heart ", n: 2, seed: 4 });
    expect(res.status).toBe(202);
    const { id, seed } = await res.json();
    expect(seed).toBe(4);
    expect(res.headers.get("Location")).toBe(`/api/generations/${id}`);

    const events = await readEvents(await getEvents(new Request(`http://t/api/generations/${id}/events`), ctx(id)));
    expect(events[0]).toBe("status");
    expect(events).toContain("progress");
    expect(events.at(-1)).toBe("done");

    const job = await (await getGeneration(new Request("http://t"), ctx(id))).json();
    expect(job).toMatchObject({ id, prompt: "red heart", status: "done", progress: 1, seed: 4, params: { n: 2, guidance: 3 } });
    expect(job.images).toHaveLength(2);
    const png = await getImage(new Request("http://t"), ctx(job.images[0].id));
    expect(png.headers.get("Content-Type")).toBe("image/png");
    expect(png.headers.get("Cache-Control")).toContain("immutable");
    expect([...new Uint8Array(await png.arrayBuffer()).subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);

    // A finished job's event stream answers at once.
    expect(await readEvents(await getEvents(new Request("http://t"), ctx(id)))).toEqual(["done"]);
  });

  it("rejects bad input with a JSON error and a clear message", async () => {
    for (const [body, message] of [
      ["not json", "the request body must be JSON"],
      [{ prompt: "   " }, "the prompt is empty"],
      [{ prompt: "x".repeat(201) }, "the prompt is longer than 200 characters"],
      [{ prompt: "ok", n: 0 }, "n must be 1–9"],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { status: 400, message } });
    }
  });

  it("answers 404 for unknown ids", async () => {
    for (const res of [await getGeneration(new Request("http://t"), ctx("nope")), await getImage(new Request("http://t"), ctx("nope")), await getEvents(new Request("http://t"), ctx("nope"))]) {
      expect(res.status).toBe(404);
      expect((await res.json()).error.message).toMatch(/no (generation|image) with id nope/);
    }
  });

  it("answers 429 with Retry-After when the queue is full", async () => {
    const db = getDb();
    // Jobs marked running are never claimed by the worker: they hold the queue full for the test.
    await db.generation.createMany({ data: [1, 2, 3].map((i) => ({ prompt: `held ${i}`, params: {}, seed: i, status: "running" })) });
    const res = await post({ prompt: "one too many" });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    await db.generation.deleteMany({ where: { prompt: { startsWith: "held" } } });
  });
});
