// Which queued jobs a worker starts next: a fair share across clients, not first-come. A client's k-th oldest
// queued job gets the turn k + (running(client) − 1, at least 0), where running(client) is how many of its jobs run
// now (on any worker of this database): one job in flight costs a client nothing, so a person who posts the next
// request while the last one renders keeps their place, and only a second or later running job pushes a client's
// queue back. The lowest turn starts first; among equal turns, the client with the fewest jobs waiting goes first
// (a light user before a heavy one: the crowd's full backlogs tie with a sixth client's one job at every turn, and
// by service time alone the crowd, served longer ago, would win each tie), then the client served longest ago (its
// last job started earliest; never, for a newcomer), then age. So every client's first waiting job starts before
// anyone's second, a client with at most one job running goes ahead of those with several, and clients take turns:
// five clients that keep the queue full cannot make a sixth wait behind their backlog (older than its job, so age
// alone would put it last), only behind the batches already running — its job starts in the next batch claimed,
// even while its previous one runs (training/bench/fair-queue.ts measures it). One client alone gets plain
// first-come order.
//
// The order is computed here, in JavaScript, from every queued job's id, client and age (the admission caps bound
// how many there are: QUEUE_LIMIT), so it is the same on SQLite and PostgreSQL. Each claim stays a conditional
// UPDATE on status "queued": two workers that pick the same job race, one wins, and no job is ever claimed twice.
import type { Db } from "./client";
import { findActiveModelVersion } from "./versions";

/** What fairOrder needs of a queued job. */
export interface Waiting {
  id: string;
  clientId: string;
  createdAt: Date;
}

/** Queued jobs read per claim: QUEUE_LIMIT's maximum, so a newcomer's job is never beyond the scan. */
const QUEUE_SCAN = 10_000;

/**
 * The queued jobs in the order they should start: by turn (the job's rank among its client's queued jobs, oldest
 * first, + the client's running jobs beyond the first), then by how many jobs the client has queued (fewest first), then by when the
 * client's last job started (`lastStarted`, ms; a client absent from it has never been served and goes first), then
 * by age, then by id. Pure: the claims and the Retry-After estimate share it.
 */
export function fairOrder<T extends Waiting>(
  queued: readonly T[],
  running: ReadonlyMap<string, number>,
  lastStarted: ReadonlyMap<string, number> = new Map(),
): T[] {
  const byAge = [...queued].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ranks = new Map<string, number>();
  const turns = byAge.map((job) => {
    const rank = (ranks.get(job.clientId) ?? 0) + 1;
    ranks.set(job.clientId, rank);
    return { job, turn: Math.max(0, (running.get(job.clientId) ?? 0) - 1) + rank };
  });
  const backlog = (c: string) => ranks.get(c) ?? 0; // after the loop: the client's queued jobs
  const served = (c: string) => lastStarted.get(c) ?? -Infinity;
  // Array.prototype.sort is stable: equal turns, backlogs and service keep their age order.
  return turns
    .sort(
      (a, b) =>
        a.turn - b.turn || backlog(a.job.clientId) - backlog(b.job.clientId) || served(a.job.clientId) - served(b.job.clientId) || 0,
    )
    .map((t) => t.job);
}

/** Running jobs per client, all workers together. */
export async function runningByClient(db: Db): Promise<Map<string, number>> {
  const rows = await db.generation.groupBy({ by: ["clientId"], where: { status: "running" }, _count: { _all: true } });
  return new Map(rows.map((r) => [r.clientId, r._count._all]));
}

/** When each of `clients` last had a job start (ms since the epoch); a client never served is absent. */
export async function lastStartedByClient(db: Db, clients: Iterable<string>): Promise<Map<string, number>> {
  const ids = [...new Set(clients)];
  if (!ids.length) return new Map();
  const rows = await db.generation.groupBy({
    by: ["clientId"],
    where: { clientId: { in: ids }, startedAt: { not: null } },
    _max: { startedAt: true },
  });
  return new Map(rows.flatMap((r) => (r._max.startedAt ? [[r.clientId, r._max.startedAt.getTime()] as const] : [])));
}

/** Every queued job's order fields and params (all versions, or `where` one model version's), and what fairOrder weighs them by. */
async function queueState(db: Db, where: object = {}) {
  const [queued, running] = await Promise.all([
    db.generation.findMany({
      where: { ...where, status: "queued" },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: QUEUE_SCAN,
      select: { id: true, clientId: true, createdAt: true, params: true },
    }),
    runningByClient(db),
  ]);
  const lastStarted = await lastStartedByClient(
    db,
    queued.map((j) => j.clientId),
  );
  return { queued, running, lastStarted };
}

const claimData = (workerId: string, leaseMs: number) => {
  const now = new Date();
  return {
    status: "running",
    workerId,
    leaseUntil: new Date(now.getTime() + leaseMs),
    startedAt: now,
    progress: 0,
    attempts: { increment: 1 },
  };
};

/** Marks the queued job whose turn it is (see fairOrder) running under `workerId`'s lease and returns it, or null; safe against races. */
export async function claimNextJob(db: Db, workerId: string, leaseMs: number) {
  for (;;) {
    const { queued, running, lastStarted } = await queueState(db);
    const next = fairOrder(queued, running, lastStarted)[0];
    if (!next) return null;
    const [claimed] = await db.generation.updateManyAndReturn({
      where: { id: next.id, status: "queued" },
      data: claimData(workerId, leaseMs),
    });
    // Another worker took it between the read and the write: look again.
    if (claimed) return claimed;
  }
}

/**
 * After claimNextJob: claims more queued jobs to sample in the same batch, each under its own lease as
 * claimNextJob's — in fair order (the head's client now counts one more running job), only those that run on
 * `versionId` (naming it, or naming none while it is the active version), as many as fit in `room` sequences by
 * `sizeOf` of their params (one that does not fit is passed over for a smaller one after it; it keeps its turn for
 * the next batch). One conditional UPDATE … RETURNING claims them all at once, on SQLite and PostgreSQL alike: a job
 * another worker claimed between the read and the write is simply not among those returned, and no job is ever
 * claimed by two. In the order picked.
 */
export async function claimMoreJobs(
  db: Db,
  workerId: string,
  leaseMs: number,
  o: { versionId: string; room: number; sizeOf: (params: unknown) => number },
) {
  if (!(o.room > 0)) return [];
  const active = (await findActiveModelVersion(db))?.id === o.versionId;
  const versions = { OR: [{ modelVersionId: o.versionId }, ...(active ? [{ modelVersionId: null }] : [])] };
  const { queued, running, lastStarted } = await queueState(db, versions);
  const picked: string[] = [];
  let room = o.room;
  for (const job of fairOrder(queued, running, lastStarted)) {
    const size = o.sizeOf(job.params);
    if (!(size <= room)) continue;
    picked.push(job.id);
    room -= size;
    if (room === 0) break;
  }
  if (picked.length === 0) return [];
  const claimed = await db.generation.updateManyAndReturn({
    where: { id: { in: picked }, status: "queued" },
    data: claimData(workerId, leaseMs),
  });
  return claimed.sort((a, b) => picked.indexOf(a.id) - picked.indexOf(b.id));
}

/**
 * How many jobs start or finish before this client's next one can (for Retry-After): 1 while one of its jobs runs
 * (its next slot frees when that one ends); else everything running plus the queued jobs ahead of its first in fair
 * order, and it. 0 when it has nothing pending.
 */
export async function queuePositionOfClient(db: Db, clientId: string): Promise<number> {
  const { queued, running, lastStarted } = await queueState(db);
  if ((running.get(clientId) ?? 0) > 0) return 1;
  const ahead = fairOrder(queued, running, lastStarted).findIndex((j) => j.clientId === clientId);
  if (ahead < 0) return 0;
  return [...running.values()].reduce((a, b) => a + b, 0) + ahead + 1;
}
