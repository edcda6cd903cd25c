// The admin API's door, called as the server calls it (the process's throttle and database, a real SQLite file):
// Bearer guessing is refused after the login's count with 429 and Retry-After, per client; and what a deletion
// leaves behind in caches (an image's Cache-Control).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_THROTTLE } from "@/lib/login-throttle";
import { CLIENT_HEADER, clientIdForAddress } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { completeJob } from "@/lib/db/generations";
import { migrate } from "@/lib/db/migrate";
import { DELETE as deleteGeneration } from "./generations/[id]/route";
import { GET as getImage } from "./images/[id]/route";

const TOKEN = "admin-api-test-token";
let dir: string;
const ctx = (id: string) => ({ params: Promise.resolve({ id }) });
const del = (id: string, token: string, address: string) =>
  deleteGeneration(
    new Request(`http://t/api/generations/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}`, [CLIENT_HEADER]: clientIdForAddress(address) },
    }),
    ctx(id),
  );

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-admin-api-"));
  process.env.DATABASE_URL = `file:${path.join(dir, "tessera.db")}`;
  process.env.ADMIN_TOKEN = TOKEN;
  await migrate(process.env.DATABASE_URL);
});
afterAll(async () => {
  await getDb().$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function finishedJob(): Promise<{ id: string; imageId: string }> {
  const db = getDb();
  const version = await db.modelVersion.create({ data: { name: `v-${Math.random()}`, kind: "dalle", path: "m", config: {} } });
  const { id } = await db.generation.create({
    data: { prompt: "p", params: {}, seed: 1, status: "running", workerId: "w", leaseUntil: new Date(Date.now() + 60_000) },
  });
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(await completeJob(db, id, "w", { images: [{ png, width: 32, height: 32 }] }, {}, version.id)).toBe(true);
  const image = await db.image.findFirstOrThrow({ where: { generationId: id }, select: { id: true } });
  return { id, imageId: image.id };
}

/** Seconds a shared cache (CDN, proxy) may keep a response: 0 when it may not keep it at all. */
function sharedCacheSeconds(cacheControl: string | null): number {
  const directives = new Map(
    (cacheControl ?? "").split(",").map((d) => {
      const [k, v] = d.trim().toLowerCase().split("=");
      return [k, v] as const;
    }),
  );
  if (directives.has("private") || directives.has("no-store")) return 0;
  const seconds = Number(directives.get("s-maxage") ?? directives.get("max-age") ?? NaN);
  // No lifetime: a shared cache may guess one (RFC 9111 §4.2.2), unbounded as far as we are concerned.
  return Number.isFinite(seconds) ? seconds : Infinity;
}

describe("DELETE /api/generations/[id] with a Bearer token", () => {
  it("refuses a guessing client with 429 and Retry-After after the login's count, the right token too; other clients are unaffected", async () => {
    const { id } = await finishedJob();
    const statuses: number[] = [];
    for (let i = 0; i < DEFAULT_THROTTLE.attempts + 3; i++) statuses.push((await del(id, `guess-${i}`, "203.0.113.5")).status);
    expect(statuses).toEqual([...Array<number>(DEFAULT_THROTTLE.attempts - 1).fill(401), ...Array<number>(4).fill(429)]);
    const refused = await del(id, TOKEN, "203.0.113.5");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("Retry-After"))).toBeLessThanOrEqual(DEFAULT_THROTTLE.blockS);
    const body = await refused.json();
    expect(body).toEqual({ error: { status: 429, message: expect.stringContaining("too many wrong admin tokens") } });
    expect(await getDb().generation.count({ where: { id } })).toBe(1);
    // Another client with the right token deletes.
    expect((await del(id, TOKEN, "198.51.100.9")).status).toBe(204);
  });

  it("a deleted image leaves shared caches within a day: its Cache-Control bounds them to 86400 s", async () => {
    const { id, imageId } = await finishedJob();
    const before = await getImage(new Request("http://t"), ctx(imageId));
    expect(before.status).toBe(200);
    const cacheControl = before.headers.get("Cache-Control");
    expect(sharedCacheSeconds(cacheControl)).toBeLessThanOrEqual(86_400);
    // Once that day is over a shared cache must not serve it stale either (or keeps none: private).
    expect(cacheControl).toMatch(/proxy-revalidate|must-revalidate|private|no-store/);
    expect((await del(id, TOKEN, "198.51.100.10")).status).toBe(204);
    expect((await getImage(new Request("http://t"), ctx(imageId))).status).toBe(404);
  });
});
