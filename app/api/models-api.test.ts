// Several models served side by side: the shipped folder is the active version, an extra folder
// (TESSERA_EXTRA_MODEL_DIRS) is registered beside it, and requests choose one with `model` (id or name). The
// chosen version is the job's, its sampling defaults fill in the request, the worker runs the job on it, the
// tokenizer is its own, and the gallery's model filter finds its generations.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { GalleryQuery, listGallery } from "@/lib/gallery";
import { listServableModels } from "@/lib/generate/models";
import { generationService } from "@/lib/generate/service";
import { selectBackend } from "@/lib/tensor/backend";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { POST as postGeneration } from "./generations/route";
import { POST as tokenize } from "./tokenize/route";

let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const json = (body: unknown) =>
  new Request("http://t/api", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", [CLIENT_HEADER]: clientIdForAddress("10.0.0.5") },
  });
const post = (body: unknown) => postGeneration(json(body));

/** The second model: a shapes-style tokenizer and text length, measured sampling defaults and example prompts. */
const SHAPES = [
  "a small red circle at the top left",
  "a large blue square left of a small green cross",
  "a small black triangle above a large cyan diamond",
];
const SECOND_SAMPLING = { guidance: 2.5, temperature: 0.9, topK: 4 };

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-models-api-");
  process.env.TESSERA_EXTRA_MODEL_DIRS = [path.join(dir, "second"), path.join(dir, "not-shipped")].join(",");
  process.env.MODELS_LOADED = "2";
  process.env.PARTIAL_EVERY = "0";
  await writeTinyModelFolder(path.join(dir, "model"));
  await writeTinyModelFolder(path.join(dir, "second"), 16, 5, {
    captions: SHAPES,
    textLen: 12,
    extra: { sampling: SECOND_SAMPLING, examples: [SHAPES[0], "", 7, SHAPES[1], SHAPES[0]] },
  });
});
afterAll(() => stopService(dir));

async function finished(id: string) {
  await new Response((await getEvents(new Request("http://t"), ctx(id))).body).text();
  return (await getGeneration(new Request("http://t"), ctx(id))).json();
}

const versionId = async (name: string) => (await getDb().modelVersion.findUniqueOrThrow({ where: { name } })).id;

describe("choosing the model", () => {
  it("registers the extra folder beside the active one, and lists both for the Create page with their own settings", async () => {
    const { db } = await generationService();
    const models = await listServableModels(db);
    expect(models.map((m) => [m.name, m.active])).toEqual([
      ["model", true],
      ["second", false],
    ]);
    expect(await db.modelVersion.count({ where: { name: "not-shipped" } })).toBe(0);
    // The manifest's examples, valid prompts only and each once; none in the first one's (the page has its own).
    expect(models.map((m) => m.examples)).toEqual([null, [SHAPES[0], SHAPES[1]]]);
    expect(models[1].sampling).toEqual(SECOND_SAMPLING);
    expect(models[0].sampling).toEqual({ guidance: 1.5, temperature: 0.7, topK: 0 });
  });

  it("answers 400 for an unknown model, naming the models there are, and queues nothing", async () => {
    const before = await getDb().generation.count();
    for (const [model, message] of [
      ["nope", /^unknown model "nope": give a model's id or name \(the models are model, second\), or leave model out/],
      [5, /^model must be a string: a model version's id or name$/],
      ["  ", /^model is empty/],
    ] as const) {
      const res = await post({ prompt: "red heart", model });
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(message);
    }
    const tok = await tokenize(json({ prompt: "red heart", model: "nope" }));
    expect(tok.status).toBe(400);
    expect((await tok.json()).error.message).toMatch(/^unknown model "nope"/);
    expect(await getDb().generation.count()).toBe(before);
  });

  it("a job for a named model gets that version at enqueue, its sampling defaults, and runs on it", async () => {
    const second = await versionId("second");
    const res = await post({ prompt: SHAPES[0], n: 1, seed: 3, model: "second" });
    expect(res.status).toBe(202);
    const { id } = await res.json();
    expect((await getDb().generation.findUniqueOrThrow({ where: { id } })).modelVersionId).toBe(second);
    const job = await finished(id);
    // completeJob records the version that actually ran.
    expect(job).toMatchObject({ status: "done", modelVersion: { id: second, name: "second" }, params: { n: 1, ...SECOND_SAMPLING } });
    expect(job.params.model).toBeUndefined();
    // By id too, and what the request sets wins over the model's defaults.
    const byId = await finished((await (await post({ prompt: SHAPES[1], n: 1, temperature: 1.2, model: second })).json()).id);
    expect(byId).toMatchObject({ modelVersion: { name: "second" }, params: { guidance: 2.5, temperature: 1.2, topK: 4 } });
    // Left out: the active model, with its own (here the app's fallback) defaults.
    const plain = await finished((await (await post({ prompt: "red heart", n: 1 })).json()).id);
    expect(plain).toMatchObject({ modelVersion: { name: "model" }, params: { guidance: 1.5, temperature: 0.7, topK: 0 } });
    // Both stayed loaded (MODELS_LOADED 2).
    const { registry } = await generationService();
    expect(registry.loadedIds.sort()).toEqual([await versionId("model"), second].sort());
  });

  it("tokenizes with the chosen model's own tokenizer", async () => {
    const asked = async (body: object) => (await tokenize(json(body))).json();
    const own = await asked({ prompt: SHAPES[0], model: "second" });
    expect([own.maxTokens, own.unknownWords]).toEqual([12, []]);
    const active = await asked({ prompt: SHAPES[0] });
    expect(active.maxTokens).toBe(8);
    expect(active.unknownWords).toEqual(expect.arrayContaining(["circle"]));
  });

  it("the gallery's model filter (by id or name) shows that model's generations, each naming its model", async () => {
    const second = await versionId("second");
    for (const q of [{ model: "second" }, { model: second }, { model: "second", q: "circle" }, { model: "second", q: "a " }]) {
      const page = await listGallery(getDb(), GalleryQuery.parse(q));
      expect(page.model).toBe(second);
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.items.every((i) => i.modelVersion?.name === "second")).toBe(true);
    }
    const all = await listGallery(getDb(), GalleryQuery.parse({}));
    expect(new Set(all.items.map((i) => i.modelVersion?.name))).toEqual(new Set(["model", "second"]));
    // By meaning, a filtered gallery asks that model's CLIP (this one has none: text search, saying so).
    const meaning = await listGallery(getDb(), GalleryQuery.parse({ model: "second", q: "circle", by: "meaning" }));
    expect(meaning.meaning).toMatchObject({ on: false, reason: "the model second has no CLIP" });
    expect(meaning.items.length > 0 && meaning.items.every((i) => i.modelVersion?.name === "second")).toBe(true);
    const unknown = await listGallery(getDb(), GalleryQuery.parse({ model: "nope" }));
    expect([unknown.total, unknown.model]).toEqual([0, "nope"]);
  });
});
