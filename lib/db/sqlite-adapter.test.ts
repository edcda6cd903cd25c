// A COMMIT that fails must not wedge the connection nor lose a later write that was acknowledged (prisma/orm#29933).
// Each scenario runs against real SQLite files: first upstream's adapter alone, to show the bug is real, then ours
// (./sqlite-adapter.ts) in rollback-journal mode, where the same faults still make the COMMIT fail, and in WAL mode,
// where a reader no longer does. The I/O errors are real ones (chattr +i, root only) and, where chattr is not
// available, an injected one that fails the COMMIT and leaves the connection inside the transaction as upstream does.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import type { SqlDriverAdapter, SqlDriverAdapterFactory, Transaction } from "@prisma/driver-adapter-utils";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../generated/prisma/client";
import type { Db } from "./client";
import { migrate } from "./migrate";
import { ResilientSqlite, type SqliteOptions } from "./sqlite-adapter";

let dir: string;
let template: string;
const clients: Db[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-sqlite-adapter-"));
  template = path.join(dir, "template.db");
  await migrate(`file:${template}`);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect().catch(() => {})));
  fs.rmSync(dir, { recursive: true, force: true });
});

let files = 0;
/** A fresh migrated database file and a client on it through `adapter`. */
function fresh(adapter: (url: string) => SqlDriverAdapterFactory): { db: Db; file: string } {
  const file = path.join(dir, `db${++files}.db`);
  fs.copyFileSync(template, file);
  const db = new PrismaClient({ adapter: adapter(`file:${file}`) });
  clients.push(db);
  return { db, file };
}
const upstream = (url: string) => new PrismaBetterSQLite3({ url, timeout: 200 });
const ours =
  (o: Partial<SqliteOptions> = {}) =>
  (url: string) =>
    new ResilientSqlite({ url, busyTimeoutMs: 200, ...o });

const job = { prompt: "before", params: {}, seed: 1 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a transaction that changes a row while `fault` is on (turned off again once it has settled), then a second
 * transaction, then a plain write that is acknowledged; reports what happened and what another connection sees.
 */
async function afterFailedCommit(db: Db, file: string, fault: { on(): void; off(): void }) {
  const row = await db.generation.create({ data: job, select: { id: true } });
  fault.on();
  let first: string;
  try {
    first = await db
      .$transaction((tx) => tx.generation.updateMany({ where: { id: row.id }, data: { prompt: "changed" } }))
      .then(
        () => "committed",
        (err: unknown) => `failed: ${(err as Error).message.trim().split("\n").at(-1)}`,
      );
  } finally {
    fault.off();
  }
  const started = performance.now();
  const second = await Promise.race([db.$transaction((tx) => tx.generation.count()).then(() => "ran"), sleep(3000).then(() => "hung")]);
  const secondMs = performance.now() - started;
  const acknowledged = await db.generation.create({ data: { ...job, prompt: "acknowledged" }, select: { id: true } });
  const outside = new Database(file, { readonly: true, timeout: 200 });
  try {
    // "<locked>": the connection still holds the lock it took for its COMMIT, and no other process can even read.
    const prompt = (id: string) => {
      try {
        return (outside.prepare(`SELECT prompt FROM "Generation" WHERE id = ?`).get(id) as { prompt: string } | undefined)?.prompt;
      } catch (err) {
        if ((err as { code?: string }).code === "SQLITE_BUSY") return "<locked>";
        throw err;
      }
    };
    return { first, second, secondMs, firstRow: prompt(row.id), acknowledgedVisible: prompt(acknowledged.id) === "acknowledged" };
  } finally {
    outside.close();
  }
}

/** Another connection holds an ordinary read transaction (a SHARED lock) across our COMMIT. */
function reader(file: string) {
  let side: Database.Database | undefined;
  return {
    on() {
      side = new Database(file);
      side.exec("BEGIN");
      side.prepare(`SELECT count(*) FROM "Generation"`).get();
    },
    off() {
      side?.exec("ROLLBACK");
      side?.close();
    },
  };
}

const isRoot = process.getuid?.() === 0;
/** The file refuses writes (EPERM, even for root) until off(): SQLite sees a real I/O error. */
function immutable(file: () => string) {
  return {
    on: () => execFileSync("chattr", ["+i", file()]),
    off: () => execFileSync("chattr", ["-i", file()]),
  };
}

describe("upstream @prisma/adapter-better-sqlite3 (the bug this wrapper exists for)", () => {
  it("after a COMMIT that a reader made fail, the next transaction hangs and an acknowledged write is not stored", async () => {
    const { db, file } = fresh(upstream);
    const r = await afterFailedCommit(db, file, reader(file));
    // If upstream fixes #29933 this test fails: then the wrapper's commit handling can be reconsidered.
    console.info("reader across COMMIT, upstream adapter:", r);
    expect(r).toMatchObject({ first: expect.stringMatching(/^failed/), second: "hung", firstRow: "<locked>", acknowledgedVisible: false });
  });
});

describe("ResilientSqlite", { timeout: 20_000 }, () => {
  it("rollback journal: a COMMIT a reader made fail is rolled back and released; later writes are stored", async () => {
    const { db, file } = fresh(ours({ journalMode: "DELETE" }));
    const r = await afterFailedCommit(db, file, reader(file));
    console.info("reader across COMMIT (DELETE journal):", r);
    expect(r.first).toMatch(/^failed/);
    expect(r).toMatchObject({ second: "ran", firstRow: "before", acknowledgedVisible: true });
    expect(r.secondMs).toBeLessThan(1000);
  });

  it("WAL: an outside read transaction does not make the COMMIT fail", async () => {
    const { db, file } = fresh(ours());
    const r = await afterFailedCommit(db, file, reader(file));
    expect(r).toMatchObject({ first: "committed", second: "ran", firstRow: "changed", acknowledgedVisible: true });
    const side = new Database(file, { readonly: true });
    expect(side.pragma("journal_mode", { simple: true })).toBe("wal");
    side.close();
  });

  it("an injected I/O error at COMMIT that leaves the connection in the transaction: rolled back, released, reopened", async () => {
    let failNext = false;
    let opened = 0;
    const { db, file } = fresh((url) => {
      const inner = new PrismaBetterSQLite3({ url, timeout: 200 });
      return new ResilientSqlite({ url, open: async () => (opened++, failingCommit(await inner.connect(), () => failNext)) });
    });
    const r = await afterFailedCommit(db, file, { on: () => (failNext = true), off: () => (failNext = false) });
    expect(r.first).toMatch(/^failed: .*disk I\/O error/);
    expect(r).toMatchObject({ second: "ran", firstRow: "before", acknowledgedVisible: true });
    // Opened at the first query, and again after the I/O error.
    expect(opened).toBe(2);
  });

  it.skipIf(!isRoot)("rollback journal: a real I/O error at COMMIT (the database file made immutable) is survived", async () => {
    const { db, file } = fresh(ours({ journalMode: "DELETE" }));
    const r = await afterFailedCommit(
      db,
      file,
      immutable(() => file),
    );
    console.info("I/O error at COMMIT (DELETE journal):", r);
    expect(r.first).toMatch(/^failed: .*disk I\/O error/);
    expect(r).toMatchObject({ second: "ran", firstRow: "before", acknowledgedVisible: true });
  });

  it.skipIf(!isRoot)("WAL: a real I/O error at COMMIT (the WAL file made immutable) is survived", async () => {
    const { db, file } = fresh(ours());
    const r = await afterFailedCommit(
      db,
      file,
      immutable(() => `${file}-wal`),
    );
    console.info("I/O error at COMMIT (WAL):", r);
    expect(r.first).toMatch(/^failed: .*disk I\/O error/);
    expect(r).toMatchObject({ second: "ran", firstRow: "before", acknowledgedVisible: true });
  });

  it.skipIf(!isRoot)("WAL: a connection reopened while the files refuse writes takes writes again once they do", async () => {
    const { db, file } = fresh(ours());
    await db.generation.create({ data: job });
    const fault = immutable(() => `${file}-wal`);
    fault.on();
    try {
      // The first write fails with an I/O error and closes the connection; the second opens one, read-only.
      for (let i = 0; i < 2; i++) await expect(db.generation.updateMany({ data: { prompt: "during" } })).rejects.toThrow();
    } finally {
      fault.off();
    }
    const outcomes: string[] = [];
    for (let i = 0; i < 2; i++)
      outcomes.push(
        await db.generation.updateMany({ data: { prompt: "after" } }).then(
          () => "ok",
          (e: Error) => e.message.trim().split("\n").at(-1)!,
        ),
      );
    console.info("writes after the fault ended:", outcomes);
    // One more failure at most (the read-only connection finds out, and is replaced), then writes work.
    expect(outcomes.at(-1)).toBe("ok");
  });

  it("a plain query waits for an open transaction instead of running inside it", async () => {
    const { db, file } = fresh(ours());
    const row = await db.generation.create({ data: job, select: { id: true } });
    const other = await db.generation.create({ data: { ...job, prompt: "other" }, select: { id: true } });
    let plain: Promise<unknown> | undefined;
    await db
      .$transaction(async (tx) => {
        await tx.generation.updateMany({ where: { id: row.id }, data: { prompt: "changed" } });
        // Issued while the transaction is open: upstream runs it on the same connection, inside the transaction.
        // (Raw: Prisma runs its own writes in a transaction of their own, which waited even upstream.)
        // Prisma's promises are lazy: then() sends it now.
        plain = db.$executeRaw`UPDATE "Generation" SET prompt = 'plain' WHERE id = ${other.id}`.then((r) => r);
        await sleep(50);
        throw new Error("abandon");
      })
      .catch(() => {});
    await plain;
    const outside = new Database(file, { readonly: true });
    const prompts = (outside.prepare(`SELECT prompt FROM "Generation"`).all() as { prompt: string }[]).map((p) => p.prompt).sort();
    outside.close();
    expect(prompts).toEqual(["before", "plain"]);
  });
});

/** Wraps a connection so that a COMMIT, while `fail()` says so, throws an I/O error without running: still in the transaction. */
function failingCommit(raw: SqlDriverAdapter, fail: () => boolean): SqlDriverAdapter {
  const startTransaction = raw.startTransaction.bind(raw);
  raw.startTransaction = async (level) => {
    const tx: Transaction = await startTransaction(level);
    const executeRaw = tx.executeRaw.bind(tx);
    tx.executeRaw = async (q) => {
      if (q.sql === "COMMIT" && fail()) throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" });
      return executeRaw(q);
    };
    return tx;
  };
  return raw;
}
