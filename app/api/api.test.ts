// The API route handlers called as the server calls them, against a real SQLite database and a real (tiny) model
// folder; the worker runs in this process.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { generationService } from "@/lib/generate/service";
import { JSON_BODY_LIMIT } from "@/lib/http/body";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { selectBackend } from "@/lib/tensor/backend";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { POST as postGeneration } from "./generations/route";
import { GET as getImage } from "./images/[id]/route";
import { POST as tokenize } from "./tokenize/route";

let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const post = (body: unknown, client = "10.0.0.1", headers: Record<string, string> = {}) =>
  postGeneration(
    new Request("http://t/api/generations", {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "Content-Type": "application/json", [CLIENT_HEADER]: clientIdForAddress(client), ...headers },
    }),
  );

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-api-");
  process.env.QUEUE_LIMIT = "6";
  process.env.QUEUE_LIMIT_PER_CLIENT = "2";
  process.env.PARTIAL_EVERY = "16";
  process.env.CANDIDATES_DEFAULT = "8";
  process.env.CANDIDATES_MAX = "12";
  await writeTinyModelFolder(path.join(dir, "model"));
});
afterAll(() => stopService(dir));

async function readEvents(res: Response): Promise<string[]> {
  const text = await new Response(res.body).text();
  return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
}

describe("API", () => {
  it("accepts a prompt with 202, streams progress, and serves the finished job and its PNGs", async () => {
    const res = await post({ prompt: "  red heart ", n: 2, seed: 4 });
    expect(res.status).toBe(202);
    const { id, seed, candidates, rerank } = await res.json();
    expect(seed).toBe(4);
    // The tiny model has no CLIP: candidates are ignored (n are sampled) and the response says reranking is off.
    expect({ candidates, rerank }).toEqual({ candidates: 2, rerank: false });
    expect(res.headers.get("Location")).toBe(`/api/generations/${id}`);

    const events = await readEvents(await getEvents(new Request(`http://t/api/generations/${id}/events`), ctx(id)));
    expect(events[0]).toBe("status");
    expect(events).toContain("progress");
    expect(events.at(-1)).toBe("done");

    const job = await (await getGeneration(new Request("http://t"), ctx(id))).json();
    expect(job).toMatchObject({ id, prompt: "red heart", status: "done", progress: 1, seed: 4, params: { n: 2, guidance: 1.5 } });
    expect(job.images).toHaveLength(2);
    // Reranking off: no candidates recorded, no scores, nothing rejected.
    expect([job.params.candidates, job.candidates, job.rejected, job.images[0].score]).toEqual([undefined, null, [], null]);
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
      [{ prompt: "ok", n: 0 }, "n must be a whole number 1–9"],
      [{ prompt: "ok", n: "4" }, "n must be a whole number 1–9"],
      [{ prompt: "ok", seed: null }, "seed must be a whole number 0–2147483647"],
      ['{"prompt":"a \\ud800"}', "the prompt contains characters that are not text (control characters or broken Unicode)"],
      [{ prompt: "\u200b\u2060" }, "the prompt has no visible character"],
      [[1, 2], "the body must be a JSON object {prompt, n?, guidance?, temperature?, topK?, seed?, candidates?, model?, init?, keepRows?}"],
      // candidates: a whole number up to the server's cap (CANDIDATES_MAX=12 here), and never fewer than n.
      [{ prompt: "ok", candidates: 0 }, "candidates must be a whole number 1–12"],
      [{ prompt: "ok", candidates: 13 }, "candidates must be a whole number 1–12"],
      [{ prompt: "ok", candidates: 64 }, "candidates must be a whole number 1–12"],
      [{ prompt: "ok", candidates: 6.5 }, "candidates must be a whole number 1–12"],
      [{ prompt: "ok", candidates: "8" }, "candidates must be a whole number 1–12"],
      [{ prompt: "ok", n: 4, candidates: 3 }, "candidates must be at least n (4): it is how many images are sampled to keep the best n"],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { status: 400, message } });
    }
  });

  it("answers 404 for unknown ids", async () => {
    for (const res of [
      await getGeneration(new Request("http://t"), ctx("nope")),
      await getImage(new Request("http://t"), ctx("nope")),
      await getEvents(new Request("http://t"), ctx("nope")),
    ]) {
      expect(res.status).toBe(404);
      expect((await res.json()).error.message).toMatch(/no (generation|image) with id nope/);
    }
  });

  it("refuses a body that is not application/json with 415, and one over the limit with 413 while reading it", async () => {
    const plain = await post(JSON.stringify({ prompt: "ok" }), "10.0.0.1", { "Content-Type": "text/plain" });
    expect(plain.status).toBe(415);
    expect((await plain.json()).error.message).toMatch(/application\/json/);
    // Declared too large: refused before reading.
    const declared = await post(JSON.stringify({ prompt: "ok" }), "10.0.0.1", { "Content-Length": String(JSON_BODY_LIMIT + 1) });
    expect(declared.status).toBe(413);
    // Streamed without a length: cut off once the limit is passed, long before the end of the body.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 16_384;
        c.enqueue(new Uint8Array(16_384).fill(0x20));
        if (sent > 64 * 2 ** 20) c.close();
      },
    });
    const res = await postGeneration(
      new Request("http://t", {
        method: "POST",
        body: endless,
        headers: { "Content-Type": "application/json" },
        duplex: "half",
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { status: 413, message: `the body is larger than ${JSON_BODY_LIMIT / 1024} KiB` } });
    expect(sent).toBeLessThan(JSON_BODY_LIMIT + 4 * 16_384);
    const big = await tokenize(
      new Request("http://t", {
        method: "POST",
        body: JSON.stringify({ prompt: "x".repeat(JSON_BODY_LIMIT) }),
        headers: { "Content-Type": "application/json" },
      }),
    );
    expect(big.status).toBe(413);
    // The tokenizer takes the Create form's limit, the API's.
    const long = await tokenize(
      new Request("http://t", {
        method: "POST",
        body: JSON.stringify({ prompt: "x".repeat(201) }),
        headers: { "Content-Type": "application/json" },
      }),
    );
    expect(long.status).toBe(400);
  });

  it("one client's loop cannot starve another: a per-client cap with its own message, and Retry-After from real job times", async () => {
    const db = getDb();
    const s = await generationService();
    await s.worker.stop(); // hold the jobs in the queue for the test
    const a: number[] = [];
    for (let i = 0; i < 6; i++) a.push((await post({ prompt: `loop ${i}`, n: 9 }, "10.0.0.66")).status);
    expect(a).toEqual([202, 202, 429, 429, 429, 429]);
    const refused = await post({ prompt: "loop again", n: 9 }, "10.0.0.66");
    expect((await refused.json()).error.message).toMatch(/you already have 2 jobs waiting.*QUEUE_LIMIT_PER_CLIENT/);
    // The finished job of the first test took a measurable time: the estimate comes from it, not a constant.
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    // Another client still gets in.
    expect((await post({ prompt: "my turn" }, "10.0.0.77")).status).toBe(202);
    expect((await post({ prompt: "my turn too" }, "10.0.0.78")).status).toBe(202);
    // The global cap (6 pending) still holds, and says so.
    await post({ prompt: "fill" }, "10.0.0.79");
    await post({ prompt: "fill" }, "10.0.0.80");
    const full = await post({ prompt: "one too many" }, "10.0.0.81");
    expect(full.status).toBe(429);
    expect((await full.json()).error.message).toMatch(/the queue is full \(6 jobs waiting.*QUEUE_LIMIT\)/);
    expect(Number(full.headers.get("Retry-After"))).toBeGreaterThan(0);
    await db.generation.deleteMany({ where: { status: "queued" } });
    s.worker.start();
  });
  it("follows a job another server generates through the database: its status, then its end", async () => {
    // Running under another machine's worker (a live lease): this process's worker never touches it.
    const db = getDb();
    const elsewhere = { status: "running", workerId: "elsewhere:1:feed", leaseUntil: new Date(Date.now() + 600_000) };
    const { id } = await db.generation.create({ data: { prompt: "red heart", params: { n: 1 }, seed: 1, ...elsewhere } });
    const stream = readEvents(await getEvents(new Request(`http://t/api/generations/${id}/events`), ctx(id)));
    await new Promise((r) => setTimeout(r, 1500));
    await db.generation.update({ where: { id }, data: { progress: 0.5 } });
    await new Promise((r) => setTimeout(r, 1500));
    await db.generation.update({ where: { id }, data: { status: "done", progress: 1, workerId: null, leaseUntil: null } });
    const events = await stream;
    // The first status (running, 0), the one the database showed at 0.5, then the end.
    expect(events).toEqual(["status", "status", "done"]);
  });
});
