// Image priming through the API, end to end: POST /api/generations with `init` + `keepRows` (an upload as
// multipart/form-data, or a gallery image), the worker of this process, the stored images' codes. The kept rows'
// codes are exactly the source's; every bad upload gets its 4xx and leaves no row and no file behind.
import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { imageCodesOf } from "@/lib/db/images";
import { sourceCodes } from "@/lib/generate/prime-codes";
import { fit, UPLOAD_MAX_BYTES } from "@/lib/generate/source-image";
import { VQModel } from "@/lib/model/vq-model";
import { selectBackend } from "@/lib/tensor/backend";
import { bombPng } from "@/test/fixtures/bomb-png";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { GET as getEvents } from "./generations/[id]/events/route";
import { GET as getGeneration } from "./generations/[id]/route";
import { GET as getSource } from "./generations/[id]/source/route";
import { POST as postGeneration } from "./generations/route";
import { GET as getImage } from "./images/[id]/route";

let dir: string;
let vq: VQModel;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const headers = { [CLIENT_HEADER]: clientIdForAddress("10.0.0.9") };

const postJson = (body: object) =>
  postGeneration(
    new Request("http://t/api/generations", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { ...headers, "Content-Type": "application/json" },
    }),
  );

/** multipart/form-data as the Create page sends it: the JSON in `request`, the file in `image`. */
function postUpload(request: object | string, image?: Uint8Array, type = "image/png", extra: Record<string, string> = {}) {
  const form = new FormData();
  form.set("request", typeof request === "string" ? request : JSON.stringify(request));
  if (image) form.set("image", new Blob([new Uint8Array(image)], { type }), "picture");
  for (const [k, v] of Object.entries(extra)) form.set(k, v);
  return postGeneration(new Request("http://t/api/generations", { method: "POST", body: form, headers }));
}

async function done(id: string): Promise<void> {
  const text = await new Response((await getEvents(new Request(`http://t/api/generations/${id}/events`), ctx(id))).body).text();
  expect(text).toMatch(/event: done/);
}

/** Every file under the image store and the sandbox besides the database: what a refused upload must not add. */
function files(): string[] {
  const walk = (d: string): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
  return walk(dir).filter((f) => !/test\.db/.test(f));
}

const picture = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 20, g: 160, b: 90 } } })
    .composite([{ input: { create: { width: w / 2, height: h / 2, channels: 3, background: { r: 250, g: 30, b: 30 } } }, top: 0, left: 0 }])
    .png()
    .toBuffer();

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-priming-api-");
  process.env.IMAGE_STORE = path.join(dir, "images");
  process.env.PARTIAL_EVERY = "16";
  await writeTinyModelFolder(path.join(dir, "model"));
  vq = VQModel.load(path.join(dir, "model", "image-tokenizer")).model;
});
afterAll(async () => {
  vq?.dispose();
  await stopService(dir);
  delete process.env.IMAGE_STORE;
});

describe("POST /api/generations with init + keepRows", () => {
  it("an upload: every stored image starts with exactly the source's codes; the source is served", async () => {
    const res = await postUpload({ prompt: "red heart", n: 2, seed: 3, init: "upload", keepRows: 3 }, await picture(48, 48));
    expect(res.status).toBe(202);
    const body = await res.json();
    expect(body.source).toBe(`/api/generations/${body.id}/source`);
    await done(body.id);
    const job = await (await getGeneration(new Request("http://t"), ctx(body.id))).json();
    expect(job.primed).toEqual({ keepRows: 3, from: "upload" });
    expect(job.source).toBe(body.source);
    expect(job.params).toMatchObject({ init: "upload", keepRows: 3 });
    const source = Buffer.from(await (await getSource(new Request("http://t"), ctx(body.id))).arrayBuffer());
    expect(await sharp(source).metadata()).toMatchObject({ format: "png", width: 32, height: 32 });
    const want = [...(await sourceCodes(vq, source)).slice(0, 24)];
    const stored = await imageCodesOf(getDb(), body.id);
    expect(stored).toHaveLength(2);
    for (const { codes } of stored) expect([...codes!.slice(0, 24)]).toEqual(want);
  });

  it("a gallery image: copied, fitted, its codes kept; a missing one is a 404 and queues nothing", async () => {
    const first = await (await postJson({ prompt: "grinning face", n: 1, seed: 5 })).json();
    await done(first.id);
    const { images } = await (await getGeneration(new Request("http://t"), ctx(first.id))).json();
    const png = Buffer.from(await (await getImage(new Request("http://t"), ctx(images[0].id))).arrayBuffer());
    const res = await postJson({ prompt: "grinning face", n: 2, seed: 6, init: { generationId: first.id, index: 0 }, keepRows: 5 });
    expect(res.status).toBe(202);
    const { id } = await res.json();
    await done(id);
    const want = [...(await sourceCodes(vq, await fit(png, 32))).slice(0, 40)];
    for (const { codes } of await imageCodesOf(getDb(), id)) expect([...codes!.slice(0, 40)]).toEqual(want);
    const before = await getDb().generation.count();
    const missing = await postJson({ prompt: "x", init: { generationId: first.id, index: 7 }, keepRows: 2 });
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.message).toBe(`no image 7 in generation ${first.id} to start from`);
    expect(await getDb().generation.count()).toBe(before);
  });

  it("every bad upload gets its 4xx with a clear message, and leaves no row and no file", async () => {
    const rowsBefore = await getDb().generation.count();
    const filesBefore = files();
    const ok = { prompt: "red heart", init: "upload", keepRows: 4 };
    const png = await picture(64, 64);
    const cases: [string, Promise<Response>, number, RegExp][] = [
      ["GIF", postUpload(ok, await sharp(png).gif().toBuffer(), "image/gif"), 415, /the image is a GIF; send a PNG, JPEG or WebP image/],
      ["text", postUpload(ok, Buffer.from("just some text"), "text/plain"), 415, /not an image we read/],
      ["over 1 MB", postUpload(ok, Buffer.concat([png, Buffer.alloc(UPLOAD_MAX_BYTES)])), 413, /larger than 1 MB/],
      ["body over the limit", postUpload(ok, Buffer.alloc(UPLOAD_MAX_BYTES + 100 * 1024)), 413, /upload is larger than 1 MB/],
      ["truncated", postUpload(ok, png.subarray(0, png.length - 30)), 400, /cannot be decoded/],
      ["corrupt", postUpload(ok, Buffer.concat([png.subarray(0, 33), Buffer.alloc(300, 9)])), 400, /cannot be decoded/],
      ["bomb", postUpload(ok, bombPng(60_000, 60_000)), 400, /60000×60000 pixels.*decompression bomb/],
      [
        "keeps every row",
        postUpload({ ...ok, keepRows: 8 }, png),
        400,
        /keepRows must be a whole number 1–7: this model's images have 8 rows/,
      ],
      ["no picture", postUpload(ok), 400, /init "upload" needs the picture/],
      ["picture without init", postUpload({ prompt: "red heart" }, png), 400, /an image was sent, but init is not "upload"/],
      ["unknown part", postUpload(ok, png, "image/png", { other: "1" }), 400, /unknown part: other/],
      ["request not JSON", postUpload("{prompt", png), 400, /must be JSON/],
      ["JSON init upload", postJson(ok), 400, /init "upload" needs the picture: send multipart\/form-data/],
      ["bad init", postJson({ ...ok, init: { generationId: "x" } }), 400, /init must be \{generationId, index\}/],
      ["keepRows without init", postJson({ prompt: "x", keepRows: 2 }), 400, /keepRows needs init/],
    ];
    for (const [what, res, status, message] of cases) {
      const r = await res;
      expect({ what, status: r.status }).toEqual({ what, status });
      expect({ what, message: (await r.json()).error.message }).toEqual({ what, message: expect.stringMatching(message) });
    }
    expect(await getDb().generation.count()).toBe(rowsBefore);
    expect(files()).toEqual(filesBefore);
  });
});
