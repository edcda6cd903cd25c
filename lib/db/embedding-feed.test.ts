// The vector index's feed (./embedding-feed.ts) on a real SQLite file: the catch-up returns exactly the searchable
// images that landed since a time, over more ids than one IN list may bind, and its queries go by Image.createdAt's
// index — with the join, SQLite walked every finished generation (a second per catch-up at 1M images, on the
// thread that answers the searches). The plan is read with EXPLAIN QUERY PLAN on the SQL Prisma actually sent.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../generated/prisma/client";
import type { Db } from "./client";
import { addGenerations } from "./embedding-fixture";
import { embeddedSince, embeddingsOf, stillSearchable } from "./embedding-feed";
import { migrate } from "./migrate";
import { ResilientSqlite } from "./sqlite-adapter";

let dir: string;
let file: string;
let db: Db;
const sent: string[] = [];
const OLD = 1200; // more generations than Prisma binds in one IN list (999)

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-feed-"));
  file = path.join(dir, "t.db");
  await migrate(`file:${file}`);
  const client = new PrismaClient({
    adapter: new ResilientSqlite({ url: `file:${file}` }),
    log: [{ emit: "event", level: "query" }],
  });
  client.$on("query", (e) => sent.push(e.query));
  db = client;
  await db.modelVersion.create({ data: { id: "v", name: "v", kind: "dalle", path: "v", config: {} } });
  await addGenerations(db, { modelVersionId: "v", prefix: "old", generations: OLD, perGeneration: 1, dim: 8, seed: 1 });
  await db.image.updateMany({ data: { createdAt: new Date(Date.now() - 3_600_000) } }); // an hour ago
  await addGenerations(db, { modelVersionId: "v", prefix: "new", generations: 5, perGeneration: 2, dim: 8, seed: 2 });
  await db.image.update({ where: { id: "new0i1" }, data: { rejected: true } });
  await db.generation.update({ where: { id: "new1" }, data: { status: "running" } });
}, 60_000);

afterAll(async () => {
  await db.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("embedding feed", () => {
  it("catches up exactly the searchable images since a time, over more ids than one IN list binds", async () => {
    const recent = await embeddedSince(db, new Date(Date.now() - 60_000));
    expect(recent.map((r) => r.id).sort()).toEqual(["new0i0", "new2i0", "new2i1", "new3i0", "new3i1", "new4i0", "new4i1"]);
    const all = await embeddedSince(db, new Date(0));
    expect(all.length).toBe(OLD + 7);
    const ids = all.map((r) => r.id);
    expect((await embeddingsOf(db, ids)).length).toBe(OLD + 7);
    expect((await stillSearchable(db, [...ids, "new1i0", "new0i1"])).size).toBe(OLD + 7);
  });

  it("reads recent images by Image.createdAt's index, never every finished generation", async () => {
    sent.length = 0;
    await embeddedSince(db, new Date(Date.now() - 60_000));
    expect(sent.length).toBeGreaterThan(0);
    const sqlite = new Database(file, { readonly: true });
    try {
      const plans = sent.map((sql) => {
        const n = (sql.match(/\?/g) ?? []).length;
        const rows = sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array<string>(n).fill("x")) as { detail: string }[];
        return rows.map((r) => r.detail).join(" | ");
      });
      expect(plans[0]).toMatch(/Image USING INDEX Image_createdAt_idx/);
      for (const plan of plans) {
        expect(plan).not.toMatch(/\bSCAN\b/);
        expect(plan).not.toMatch(/Generation_status/);
      }
    } finally {
      sqlite.close();
    }
  });
});
