// Admission (issue 30 part 4): the last fifth of QUEUE_LIMIT is kept for clients with nothing waiting, so a crowd of
// addresses that keeps the queue full never shuts a newcomer out; every refusal says which cap and when to come back.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../db/client";
import { migrate } from "../db/migrate";
import { GenerationParams, SAMPLING_FALLBACK, withSamplingDefaults } from "./params";
import { enqueue, QueueFullError, reservedPlaces, type EnqueueOptions } from "./queue";

let dir: string;
let db: Db;
const req = (prompt: string) => withSamplingDefaults(GenerationParams.parse({ prompt }), SAMPLING_FALLBACK);
const admit = (clientId: string): EnqueueOptions => ({ limit: 20, perClientLimit: 4, clientId, modelVersionId: null });
const post = (clientId: string) =>
  enqueue(db, req(`from ${clientId}`), admit(clientId)).then(
    () => "admitted" as const,
    (err: unknown) => {
      if (!(err instanceof QueueFullError)) throw err;
      return err;
    },
  );

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-queue-"));
  const url = `file:${path.join(dir, "t.db")}`;
  await migrate(url);
  db = createDb(url);
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("admission", () => {
  it("keeps a fifth of QUEUE_LIMIT for clients with nothing waiting", () => {
    expect([reservedPlaces(20), reservedPlaces(6), reservedPlaces(4), reservedPlaces(1)]).toEqual([4, 1, 0, 0]);
  });

  it("lets a sixth client in while five addresses keep re-posting, and tells the crowd when to come back", async () => {
    const crowd = ["h1", "h2", "h3", "h4", "h5"];
    // The crowd re-posts until refused: each would reach its cap of 4 (20 = QUEUE_LIMIT), but stops at 16.
    for (let round = 0; round < 6; round++) for (const h of crowd) await post(h);
    expect(await db.generation.count({ where: { status: "queued" } })).toBe(16);
    const refused = await post("h2");
    expect(refused).toBeInstanceOf(QueueFullError);
    const r = refused as QueueFullError;
    expect(r.limit).toBe("reserved");
    expect(r.message).toMatch(
      /the queue is nearly full \(16 jobs waiting\).*kept for clients with nothing waiting.*try again in about \d+ s/,
    );
    expect(r.retryAfterS).toBeGreaterThanOrEqual(1);
    // The newcomer gets in; so does its next post once its first job has started (running is not waiting).
    expect(await post("newcomer")).toBe("admitted");
    await db.generation.updateMany({ where: { clientId: "newcomer" }, data: { status: "running" } });
    expect(await post("newcomer")).toBe("admitted");
    // With a job still waiting it is one of the crowd again.
    expect((await post("newcomer")) as QueueFullError).toMatchObject({ limit: "reserved" });
    // Other newcomers fill the reserved places up to QUEUE_LIMIT, and then the global cap refuses everyone.
    expect(await post("other-1")).toBe("admitted");
    expect(await post("other-2")).toBe("admitted");
    const full = (await post("other-3")) as QueueFullError;
    expect(full).toMatchObject({ limit: "global", pending: 20 });
    expect(full.message).toMatch(/the queue is full \(20 jobs waiting, the server's limit QUEUE_LIMIT\); try again in about \d+ s/);
    await db.generation.deleteMany({});
  });

  it("keeps the per-client cap", async () => {
    for (let i = 0; i < 4; i++) expect(await post("solo")).toBe("admitted");
    await db.generation.updateMany({ where: { clientId: "solo" }, data: { status: "running" } });
    expect((await post("solo")) as QueueFullError).toMatchObject({ limit: "client", pending: 4 });
    await db.generation.deleteMany({});
  });
});
