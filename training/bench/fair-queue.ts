// `npx tsx training/bench/fair-queue.ts [--seconds 60] [--every 2] [--model-dir models/default] [--pg URL]`
// Issue 30 part 4's measurement, on the real server with the default limits (QUEUE_LIMIT 20, 4 per client): five
// clients (127.0.0.2–6) keep re-posting heavy jobs (4 images) the moment they may, each keeping its 4 places full;
// after they have filled the queue a sixth client (127.0.0.7) posts one job every `--every` seconds. The targets:
// the sixth gets ≥ 80 % of its posts admitted, and each of its jobs starts in the first batch claimed after it was
// queued (no batch of the crowd's starts between its arrival and its start). Prints JSON. Run it on a quiet machine.
import path from "node:path";
import { z } from "zod";
import { parseFlags, runMain } from "../cli";
import { clientAddress, jobWhen, liveServer, send, sleep, stats } from "./load-clients";

const USAGE = "usage: npx tsx training/bench/fair-queue.ts [--seconds S] [--every S] [--model-dir DIR] [--pg URL]";
const Flags = z.object({
  seconds: z.coerce.number().min(5).max(3600).default(60),
  every: z.coerce.number().min(0.1).max(60).default(2),
  modelDir: z.string().default(path.join("models", "default")),
  pg: z.string().optional(),
});

type Job = { id: string; status: string; createdAt: string; startedAt: string | null; timings?: { totalMs?: number } };
const HEAVY = { prompt: "grinning face, noto", n: 4 };
const CROWD = 5;

runMain("bench:fair-queue", async () => {
  const f = parseFlags(process.argv.slice(2), Flags, USAGE);
  const log = (s: string) => console.error(`[fair-queue] ${s}`);
  const server = await liveServer("bench-fair", { modelDir: f.modelDir, pgUrl: f.pg, log });
  const base = server.base;
  let running = true;
  const crowdIds: string[] = [];
  let crowdRefused = 0;
  // Each crowd client runs 4 loops: post; when admitted, wait for the job to end and post again; when refused, at once.
  const crowd = Array.from({ length: CROWD * 4 }, async (_, i) => {
    const from = clientAddress(i % CROWD);
    while (running) {
      const a = await send(base, "POST", "/api/generations", { from, body: { ...HEAVY, seed: crowdIds.length } });
      if (a.status === 202) {
        const id = (a.body as { id: string }).id;
        crowdIds.push(id);
        await jobWhen(base, id, () => !running);
      } else {
        crowdRefused++;
        await sleep(100);
      }
    }
  });
  try {
    log("the crowd fills the queue…");
    // (16: QUEUE_LIMIT less the places kept for clients with nothing waiting.)
    for (let t = 0; t < 120 && crowdIds.length < 16; t++) await sleep(500);
    log(`the sixth client posts every ${f.every} s for ${f.seconds} s…`);
    const mine: { id: string }[] = [];
    const refusals: { retryAfter: string | undefined; message: string }[] = [];
    const end = Date.now() + f.seconds * 1000;
    while (Date.now() < end) {
      const a = await send(base, "POST", "/api/generations", { from: clientAddress(CROWD), body: { prompt: "red heart", n: 1 } });
      if (a.status === 202) mine.push({ id: (a.body as { id: string }).id });
      else
        refusals.push({
          retryAfter: a.headers["retry-after"] as string | undefined,
          message: (a.body as { error?: { message?: string } }).error?.message ?? String(a.status),
        });
      await sleep(f.every * 1000);
    }
    log("waiting for the sixth client's jobs to start…");
    // One after another: the start times are the server's, and ~30 polls at once from one address would trip its
    // per-client connection cap (CONNECTIONS_PER_CLIENT) and be cut off.
    const sixth: Job[] = [];
    for (const j of mine) sixth.push((await jobWhen(base, j.id, (x) => x.startedAt != null)) as Job);
    running = false;
    await Promise.all(crowd);
    // Read back a few at a time, for the same connection cap.
    const crowdJobs: Job[] = [];
    for (let i = 0; i < crowdIds.length; i += 4)
      for (const a of await Promise.all(crowdIds.slice(i, i + 4).map((id) => send(base, "GET", `/api/generations/${id}`))))
        crowdJobs.push(a.body as Job);
    // The crowd's batch starts: jobs claimed together share (nearly) one startedAt.
    const starts = [...new Set(crowdJobs.flatMap((j) => (j.startedAt ? [Date.parse(j.startedAt)] : [])))].sort((a, b) => a - b);
    const batches = starts.filter((t, i) => i === 0 || t - starts[i - 1] > 100);
    const waits = sixth.map((j) => {
      const queued = Date.parse(j.createdAt);
      const started = j.startedAt ? Date.parse(j.startedAt) : NaN;
      const before = batches.filter((t) => t > queued && t < started - 100);
      // For a job that waited behind the crowd: when those batches started, in ms after it was queued.
      return { waitMs: started - queued, crowdBatchesFirst: before.length, batchesMs: before.map((t) => t - queued) };
    });
    const admitted = mine.length / (mine.length + refusals.length);
    const crowdMs = crowdJobs.flatMap((j) => (j.timings?.totalMs ? [j.timings.totalMs] : []));
    console.log(
      JSON.stringify(
        {
          seconds: f.seconds,
          database: f.pg ? "postgresql" : "sqlite",
          crowd: { clients: CROWD, admitted: crowdIds.length, refused: crowdRefused, jobMs: crowdMs.length ? stats(crowdMs) : null },
          sixth: {
            posts: mine.length + refusals.length,
            admitted: mine.length,
            admittedShare: Math.round(admitted * 100) / 100,
            refusals: refusals.slice(0, 3),
            wait: waits.length ? stats(waits.map((w) => w.waitMs)) : null,
            crowdBatchesStartedBeforeIt: waits.map((w) => w.crowdBatchesFirst),
            behindTheCrowd: waits.filter((w) => w.crowdBatchesFirst > 0).map(({ waitMs, batchesMs }) => ({ startedMs: waitMs, batchesMs })),
          },
          target: {
            admittedShare: 0.8,
            startsWithinOneBatch: true,
            met: admitted >= 0.8 && waits.every((w) => w.crowdBatchesFirst === 0),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    running = false;
    server.stop();
  }
});
