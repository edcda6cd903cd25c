// Property tests: hostile input to every API route, called as the server calls it against a real SQLite database
// and a real (tiny) model, never answers 5xx, and every error is the JSON error shape without filesystem paths.
// The server entry's guard gets the same treatment for the paths and form posts Next itself would choke on.
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "@/test/fixtures/service";
import { ADMIN_COOKIE } from "@/lib/admin";
import { generationService } from "@/lib/generate/service";
import { checkActionBody, checkPath, checkRequest } from "@/lib/http/guard";
import { selectBackend } from "@/lib/tensor/backend";
import { writeTinyModelFolder } from "@/test/fixtures/tiny-model";
import { DELETE as deleteGeneration, GET as getGeneration } from "./generations/[id]/route";
import { GET as getEvents } from "./generations/[id]/events/route";
import { POST as postGeneration } from "./generations/route";
import { GET as getHealth } from "./health/route";
import { GET as getImage } from "./images/[id]/route";
import { GET as getSamples } from "./models/[id]/samples/route";
import { POST as tokenize } from "./tokenize/route";

let dir: string;
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-fuzz-");
  process.env.ADMIN_TOKEN = "fuzz-admin-token";
  await writeTinyModelFolder(path.join(dir, "model"));
  // Accepted jobs wait in the queue: the properties are about answers, not about generating.
  await (await generationService()).worker.stop();
});
afterAll(() => stopService(dir));

/** No 5xx; an error is {error: {status, message}} with the response's status and no absolute path in the text. */
async function expectSound(res: Response): Promise<void> {
  expect(res.status).toBeLessThan(500);
  if (res.status < 400) return;
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = await res.json();
  expect(body).toEqual({ error: { status: res.status, message: expect.any(String) } });
  expect(body.error.message).not.toContain(dir);
  expect(body.error.message).not.toContain(process.cwd());
}

const jsonText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        prompt: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.jsonValue()),
        n: fc.jsonValue(),
        guidance: fc.jsonValue(),
        temperature: fc.jsonValue(),
        topK: fc.jsonValue(),
        seed: fc.jsonValue(),
        candidates: fc.oneof(fc.jsonValue(), fc.integer({ min: -2, max: 70 })),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ unit: "binary", maxLength: 400 }),
);
const body = fc.oneof(
  jsonText.map((t) => new TextEncoder().encode(t)),
  fc.uint8Array({ maxLength: 600 }),
);
const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "text/plain",
  "",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
);
const id = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ maxLength: 3000 }),
  fc.constantFrom("", "..", "%", "\u0000", "a\ud800", "null"),
);
const cookie = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "binary", maxLength: 80 }).map((s) => `${ADMIN_COOKIE}=${s}`),
  fc.constantFrom(`${ADMIN_COOKIE}=%ZZ`, `${ADMIN_COOKIE}=%ED%A0%80`),
);
const auth = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
  fc.constant("Bearer fuzz-admin-token"),
);

// Header values must be ByteStrings: keep what a client could really send.
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, "");

describe("every API route under hostile input", () => {
  it("POST /api/generations and /api/tokenize: any body, any content type", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(postGeneration, tokenize), body, contentType, async (handler, bytes, type) => {
        const headers: Record<string, string> = type ? { "Content-Type": type } : {};
        await expectSound(await handler(new Request("http://t/api", { method: "POST", body: bytes, headers })));
      }),
      { numRuns: RUNS },
    );
  });

  it("the id routes: any id, any cookie or bearer header", async () => {
    const ctx = (v: string) => ({ params: Promise.resolve({ id: v }) });
    await fc.assert(
      fc.asyncProperty(id, cookie, auth, async (v, c, a) => {
        const headers: Record<string, string> = {};
        if (headerSafe(c)) headers.cookie = headerSafe(c);
        if (headerSafe(a)) headers.authorization = headerSafe(a);
        const req = () => new Request("http://t/api/x", { headers });
        for (const res of [
          await getGeneration(req(), ctx(v)),
          await deleteGeneration(new Request("http://t", { method: "DELETE", headers }), ctx(v)),
          await getEvents(req(), ctx(v)),
          await getImage(req(), ctx(v)),
          await getSamples(req(), ctx(v)),
        ]) {
          await expectSound(res);
        }
      }),
      { numRuns: RUNS },
    );
    await expectSound(await getHealth());
  });
});

describe("the server entry's guard", () => {
  it("lets a path through only when every segment decodes to text, and never throws", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webPath(),
          fc.string({ unit: "binary" }).map((s) => `/api/images/${s}`),
          fc.stringMatching(/^\/[%0-9A-Fa-fZ/]{0,20}$/),
        ),
        (url) => {
          const r = checkPath(url);
          if (r) expect(r.status).toBe(400);
          else for (const s of url.split(/[?#]/, 1)[0].split("/")) expect(() => decodeURIComponent(s)).not.toThrow();
        },
      ),
      { numRuns: 2000 },
    );
    for (const bad of [
      "/api/images/%ZZ",
      "/api/generations/%",
      "/api/generations/%E0%A4%A",
      "/gallery/%FF",
      "/api/images/%ED%A0%80",
      "/gallery/a%00b",
    ])
      expect(checkPath(bad)?.status).toBe(400);
    expect(checkPath("/gallery/abc%20def")).toBeNull();
  });

  it("refuses cross-site, oversized, unsized and undecodable form posts with a 4xx", async () => {
    const post = (headers: Record<string, string>, url = "/admin") =>
      checkRequest({ method: "POST", url, headers: { host: "t.test", ...headers }, proto: "http" });
    const form = { "content-type": "multipart/form-data; boundary=----x", "content-length": "100" };
    expect(post({ ...form, origin: "http://evil.example" })?.status).toBe(403);
    expect(post({ ...form, origin: "null" })?.status).toBe(403);
    expect(post({ ...form, origin: "http://t.test" })).toBeNull();
    expect(post({ ...form, "content-length": String(2 ** 20) })?.status).toBe(413);
    expect(post({ "content-type": form["content-type"] })?.status).toBe(411);
    expect(post({ "content-type": "application/json", "content-length": "2" })?.status).toBe(415);
    expect(post({ "next-action": "x", "content-type": "text/plain", "content-length": "2" }, "/api/tokenize")).toBeNull();
    expect(post({ "content-type": "application/json", "content-length": "2" }, "/api/tokenize")).toBeNull();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("multipart/form-data; boundary=XYZ", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"),
        fc.uint8Array({ maxLength: 300 }),
        async (type, bytes) => {
          const r = await checkActionBody(type, Buffer.from(bytes));
          if (r) expect(r.status).toBe(400);
        },
      ),
      { numRuns: 300 },
    );
    expect((await checkActionBody("text/plain", Buffer.from("{{{{")))?.status).toBe(400);
    expect((await checkActionBody("multipart/form-data; boundary=XYZ", Buffer.from("garbage")))?.status).toBe(400);
    expect(await checkActionBody("text/plain", Buffer.from("[]"))).toBeNull();
    // React reference forms a form never sends (Next answers 500 when they do not resolve) are refused.
    for (const ref of ["$Q1", "$B1", "$F1", "$1", "$Z", "$", "$i1", "$W1", "$A1"]) {
      expect((await checkActionBody("text/plain", Buffer.from(JSON.stringify([ref])), true))?.status).toBe(400);
      const multipart = `--XYZ\r\nContent-Disposition: form-data; name="0"\r\n\r\n${JSON.stringify([{ x: [ref] }])}\r\n--XYZ--\r\n`;
      expect((await checkActionBody("multipart/form-data; boundary=XYZ", Buffer.from(multipart), true))?.status).toBe(400);
    }
    // What a form really sends: its FormData by reference, and escaped dollars.
    const formPost = `--XYZ\r\nContent-Disposition: form-data; name="1_token"\r\n\r\nabc\r\n--XYZ\r\nContent-Disposition: form-data; name="0"\r\n\r\n["$K1"]\r\n--XYZ--\r\n`;
    expect(await checkActionBody("multipart/form-data; boundary=XYZ", Buffer.from(formPost), true)).toBeNull();
    expect(await checkActionBody("text/plain", Buffer.from('["$$5", null]'), true)).toBeNull();
    const ok = '--XYZ\r\nContent-Disposition: form-data; name="token"\r\n\r\nabc\r\n--XYZ--\r\n';
    expect(await checkActionBody("multipart/form-data; boundary=XYZ", Buffer.from(ok))).toBeNull();
  });
});
