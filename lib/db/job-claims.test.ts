// The fair queue (issue 30 part 4): jobs start round-robin across clients, a client with at most one running ahead of
// those with several, on SQLite and (with TESSERA_TEST_PG_URL) PostgreSQL, and concurrent claimers never share
// a job. Each suite has a database of its own (test/fixtures/scratch-db.ts); within one, every job runs on a model
// version of its own (the batch claims filter by it), and the single claim's jobs are older than any other queued.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useScratchDb } from "../../test/fixtures/scratch-db";
import type { Db } from "./client";
import { claimMoreJobs, claimNextJob, fairOrder, queuePositionOfClient } from "./job-claims";

const at = (s: number) => new Date(Date.UTC(2000, 0, 1) + s * 1000);

describe("fairOrder", () => {
  const job = (id: string, clientId: string, s: number) => ({ id, clientId, createdAt: at(s) });

  it("takes every client's first waiting job before anyone's second, the lighter backlog first among equals", () => {
    const queued = [job("a1", "A", 1), job("a2", "A", 2), job("a3", "A", 3), job("b1", "B", 4), job("b2", "B", 5), job("c1", "C", 6)];
    expect(fairOrder(queued, new Map()).map((j) => j.id)).toEqual(["c1", "b1", "a1", "b2", "a2", "a3"]);
  });

  it("puts a client with at most one job running ahead of clients with several, whatever the age", () => {
    const queued = [job("a1", "A", 1), job("b1", "B", 2), job("o1", "O", 8), job("n1", "N", 9)];
    expect(
      fairOrder(
        queued,
        new Map([
          ["A", 2],
          ["B", 3],
          ["O", 1],
        ]),
      ).map((j) => j.id),
    ).toEqual(["o1", "n1", "a1", "b1"]);
  });

  it("lets a client post its next job while its last one runs without losing its turn to an idle crowd", () => {
    // The bench's other case: the crowd's clients have nothing running (the batches ran others') and full backlogs;
    // the sixth's previous job still runs. Counting that job would put the crowd's first jobs ahead of its one.
    const queued = [job("a1", "A", 1), job("a2", "A", 2), job("b1", "B", 3), job("b2", "B", 4), job("s2", "S", 9)];
    const lastStarted = new Map([
      ["A", 100],
      ["B", 200],
      ["S", 300],
    ]);
    expect(fairOrder(queued, new Map([["S", 1]]), lastStarted).map((j) => j.id)).toEqual(["s2", "a1", "b1", "a2", "b2"]);
  });

  it("among equal turns serves the client served longest ago first (never: first), not the oldest backlog", () => {
    const queued = [job("a1", "A", 1), job("b1", "B", 2), job("c1", "C", 3), job("n1", "N", 9)];
    const lastStarted = new Map([
      ["A", 300],
      ["B", 100],
      ["C", 200],
    ]);
    expect(fairOrder(queued, new Map(), lastStarted).map((j) => j.id)).toEqual(["n1", "b1", "c1", "a1"]);
  });

  it("among equal turns serves the client with fewer jobs waiting first, though the others were served longer ago", () => {
    // The bench's case: five clients each run one job and keep four queued; a sixth runs one and has one queued.
    const queued = [job("a2", "A", 1), job("a3", "A", 2), job("b2", "B", 3), job("b3", "B", 4), job("s2", "S", 9)];
    const running = new Map([
      ["A", 1],
      ["B", 1],
      ["S", 1],
    ]);
    const lastStarted = new Map([
      ["A", 100],
      ["B", 200],
      ["S", 300],
    ]);
    expect(fairOrder(queued, running, lastStarted).map((j) => j.id)).toEqual(["s2", "a2", "b2", "a3", "b3"]);
  });

  it("is first-come for one client alone", () => {
    const queued = [job("x3", "X", 3), job("x1", "X", 1), job("x2", "X", 2)];
    expect(fairOrder(queued, new Map([["X", 4]])).map((j) => j.id)).toEqual(["x1", "x2", "x3"]);
  });
});

function exerciseClaims(getDb: () => Db) {
  let tag: string;
  let versionId: string;
  const sizeOf = () => 1;
  const add = (db: Db, client: string, s: number, status = "queued", startedAt?: Date) =>
    db.generation.create({
      data: {
        prompt: `${tag} ${client}`,
        params: { n: 1 },
        seed: s,
        clientId: `${tag}-${client}`,
        modelVersionId: versionId,
        status,
        createdAt: at(s),
        ...(status === "running" ? { workerId: `${tag}:w`, leaseUntil: new Date(Date.now() + 600_000) } : {}),
        ...(startedAt ? { startedAt } : {}),
      },
    });

  beforeAll(async () => {
    tag = `fair-${process.pid}-${Date.now()}`;
    versionId = (await getDb().modelVersion.create({ data: { name: tag, kind: "dalle", path: "m/fair", config: {} } })).id;
  });
  afterAll(async () => {
    await getDb().generation.deleteMany({ where: { prompt: { startsWith: tag } } });
    await getDb().modelVersion.deleteMany({ where: { name: tag } });
  });

  it("batches round-robin across clients rather than first-come", async () => {
    const db = getDb();
    // A looped 4 jobs first, then B 2, then C 1: first-come would batch A's four. Each turn, lighter backlogs first.
    const a = [await add(db, "A", 1), await add(db, "A", 2), await add(db, "A", 3), await add(db, "A", 4)];
    const b = [await add(db, "B", 5), await add(db, "B", 6)];
    const c = await add(db, "C", 7);
    const first = await claimMoreJobs(db, `${tag}:1`, 60_000, { versionId, room: 4, sizeOf });
    expect(first.map((j) => j.id)).toEqual([c.id, b[0].id, a[0].id, b[1].id]);
    const rest = await claimMoreJobs(db, `${tag}:2`, 60_000, { versionId, room: 16, sizeOf });
    expect(rest.map((j) => j.id)).toEqual([a[1].id, a[2].id, a[3].id]);
    await db.generation.deleteMany({ where: { prompt: { startsWith: tag } } });
  });

  it("starts a newcomer's job next while five clients keep the queue full, and says it is next in line", async () => {
    const db = getDb();
    const crowd = ["H1", "H2", "H3", "H4", "H5"];
    // Each of the five has one job running and three waiting, all older than the newcomer's.
    for (const [i, h] of crowd.entries()) {
      await add(db, h, i, "running");
      for (let k = 1; k <= 3; k++) await add(db, h, 10 * k + i);
    }
    const mine = await add(db, "N", 100);
    expect(await queuePositionOfClient(db, `${tag}-N`)).toBeLessThanOrEqual(
      (await db.generation.count({ where: { status: "running" } })) + 1,
    );
    const next = await claimNextJob(db, `${tag}:3`, 60_000);
    expect(next?.id).toBe(mine.id);
    expect(next).toMatchObject({ status: "running", workerId: `${tag}:3`, attempts: 1 });
    await db.generation.deleteMany({ where: { prompt: { startsWith: tag } } });
  });

  it("takes a newcomer's job before a crowd's older backlog when the crowd has just been served and runs nothing", async () => {
    const db = getDb();
    // Each of three crowd clients: a job that started a moment ago (done) and two queued, all older than the newcomer's.
    for (const [i, h] of ["K1", "K2", "K3"].entries()) {
      await add(db, h, 30 + i, "done", new Date(Date.now() - 1000 * (i + 1)));
      await add(db, h, 40 + i);
      await add(db, h, 50 + i);
    }
    const mine = await add(db, "M", 90);
    expect((await claimNextJob(db, `${tag}:4`, 60_000))?.id).toBe(mine.id);
    // Then the crowd in turn, the one served longest ago (K3) first.
    const more = await claimMoreJobs(db, `${tag}:4`, 60_000, { versionId, room: 3, sizeOf });
    expect(more.map((j) => j.prompt)).toEqual([`${tag} K3`, `${tag} K2`, `${tag} K1`]);
    await db.generation.deleteMany({ where: { prompt: { startsWith: tag } } });
  });

  it("never hands one job to two claimers at once", async () => {
    const db = getDb();
    const ids = new Set<string>();
    for (let i = 0; i < 12; i++) ids.add((await add(db, `C${i % 4}`, 200 + i)).id);
    const claims = await Promise.all(
      Array.from({ length: 6 }, (_, w) => claimMoreJobs(db, `${tag}:c${w}`, 60_000, { versionId, room: 3, sizeOf })),
    );
    const claimed = claims.flat().map((j) => j.id);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.every((id) => ids.has(id))).toBe(true);
    const rows = await db.generation.findMany({ where: { id: { in: [...ids] }, status: "running" }, select: { workerId: true } });
    expect(rows).toHaveLength(claimed.length);
    await db.generation.deleteMany({ where: { prompt: { startsWith: tag } } });
  });
}

describe("fair claims on SQLite", () => {
  const scratch = useScratchDb("fair");
  exerciseClaims(() => scratch().db);
});

describe.runIf(process.env.TESSERA_TEST_PG_URL)("fair claims on PostgreSQL (TESSERA_TEST_PG_URL)", () => {
  const scratch = useScratchDb("fair", process.env.TESSERA_TEST_PG_URL);
  exerciseClaims(() => scratch().db);
});
