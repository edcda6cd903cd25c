// A database that refuses writes for a while is a 503 with Retry-After (try again), not a 500: the error a write
// really gets from Prisma while the SQLite files refuse writes (chattr +i, root only), and the driver's own errors.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorResponse } from "./api";
import { createDb, type Db } from "./db/client";
import { migrate } from "./db/migrate";

let dir: string;
let file: string;
let db: Db;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-api-"));
  file = path.join(dir, "t.db");
  await migrate(`file:${file}`);
  db = createDb(`file:${file}`);
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function expectRetryLater(err: unknown) {
  const res = errorResponse(err);
  expect(res.status).toBe(503);
  expect(res.headers.get("Retry-After")).toBe("5");
  expect((await res.json()).error.message).toMatch(/the database is unavailable right now/);
}

describe("errorResponse", () => {
  it.skipIf(process.getuid?.() !== 0)("answers 503 + Retry-After to a write the database file refuses (I/O error)", async () => {
    await db.generation.count(); // opens the connection, and with it the WAL file
    execFileSync("chattr", ["+i", `${file}-wal`]);
    let err: unknown;
    try {
      err = await db.generation.create({ data: { prompt: "p", params: {}, seed: 1 } }).catch((e: unknown) => e);
    } finally {
      execFileSync("chattr", ["-i", `${file}-wal`]);
    }
    expect(String(err)).toMatch(/disk I\/O error/);
    await expectRetryLater(err);
  });

  it("answers 503 + Retry-After to the driver's I/O, full-disk and cannot-open errors, 500 to others", async () => {
    for (const [message, code] of [
      ["disk I/O error", "SQLITE_IOERR_WRITE"],
      ["database or disk is full", "SQLITE_FULL"],
      ["unable to open database file", "SQLITE_CANTOPEN"],
    ])
      await expectRetryLater(new Database.SqliteError(message, code));
    const quiet = console.error;
    console.error = () => {};
    try {
      expect(errorResponse(new Database.SqliteError("no such table: X", "SQLITE_ERROR")).status).toBe(500);
    } finally {
      console.error = quiet;
    }
  });
});
