// GET /api/images/[id] with IMAGE_STORE naming a folder, as the server runs it: the process's database (a real
// SQLite file) and the store the environment names.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/lib/db/client";
import { completeJob, deleteGeneration } from "@/lib/db/generations";
import { migrate } from "@/lib/db/migrate";
import { GET as getImage } from "./images/[id]/route";

let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const png = (n: number) => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, n]);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-image-api-"));
  process.env.DATABASE_URL = `file:${path.join(dir, "tessera.db")}`;
  process.env.IMAGE_STORE = path.join(dir, "images");
  await migrate(process.env.DATABASE_URL);
});
afterAll(async () => {
  await getDb().$disconnect();
  delete process.env.IMAGE_STORE;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function finishedJob(): Promise<{ id: string; images: { id: string; storeKey: string | null }[] }> {
  const db = getDb();
  const version = await db.modelVersion.create({ data: { name: `v-${Math.random()}`, kind: "dalle", path: "m", config: {} } });
  const { id } = await db.generation.create({
    data: { prompt: "p", params: {}, seed: 1, status: "running", workerId: "w", leaseUntil: new Date(Date.now() + 60_000) },
  });
  const img = (n: number) => ({ png: png(n), width: 32, height: 32 });
  expect(await completeJob(db, id, "w", { images: [img(1), img(2)] }, {}, version.id)).toBe(true);
  const images = await db.image.findMany({ where: { generationId: id }, orderBy: { index: "asc" }, select: { id: true, storeKey: true } });
  return { id, images };
}

describe("GET /api/images/[id] with IMAGE_STORE=<folder>", () => {
  it("serves the bytes from the folder the setting names, and 404s an unknown id as before", async () => {
    const { images } = await finishedJob();
    expect(images.every((i) => i.storeKey && fs.existsSync(path.join(dir, "images", i.storeKey)))).toBe(true);
    const res = await getImage(new Request("http://t"), ctx(images[1].id));
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(png(2));
    expect((await getImage(new Request("http://t"), ctx("c000000000000000000000000"))).status).toBe(404);
  });

  it("answers a row whose file is gone with a clear error, not a crash", async () => {
    const { images } = await finishedJob();
    fs.rmSync(path.join(dir, "images", images[0].storeKey!));
    const res = await getImage(new Request("http://t"), ctx(images[0].id));
    expect(res.status).toBe(500);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const { error } = await res.json();
    expect(error.message).toBe(
      `image ${images[0].id} cannot be shown: the file of this image (${images[0].storeKey}) is missing from the image store`,
    );
  });

  it("deletes the files with their generation", async () => {
    const { id, images } = await finishedJob();
    expect(await deleteGeneration(getDb(), id)).toBe(true);
    for (const i of images) expect(fs.existsSync(path.join(dir, "images", i.storeKey!))).toBe(false);
    expect((await getImage(new Request("http://t"), ctx(images[0].id))).status).toBe(404);
  });
});
