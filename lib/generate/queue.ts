// Admission to the generation queue: a global cap (QUEUE_LIMIT) so the server never promises more than it can do,
// and a per-client cap (QUEUE_LIMIT_PER_CLIENT) so one client looping requests cannot take every slot. The last
// fifth of the global cap is kept for clients with nothing waiting (no queued job; a running one is not waiting),
// so a crowd of addresses that keeps the queue full cannot shut a newcomer out; once admitted, the fair order of
// ../db/job-claims.ts starts its job ahead of theirs. A refusal says which cap was hit and when to come back,
// estimated from how long recent jobs really took.
import type { Db } from "../db/client";
import {
  countPending,
  countPendingForClient,
  countQueuedForClient,
  createGeneration,
  queuePositionOfClient,
  recentJobSeconds,
} from "../db/generations";
import type { GenerationParams } from "./params";

export { GenerationParams } from "./params";

export class QueueFullError extends Error {
  constructor(
    readonly limit: "global" | "reserved" | "client",
    readonly pending: number,
    readonly retryAfterS: number,
  ) {
    super(
      limit === "global"
        ? `the queue is full (${pending} jobs waiting, the server's limit QUEUE_LIMIT); try again in about ${retryAfterS} s`
        : limit === "reserved"
          ? `the queue is nearly full (${pending} jobs waiting) and its last places are kept for clients with nothing waiting, while you have a job that has not started yet; try again in about ${retryAfterS} s, once it has`
          : `you already have ${pending} jobs waiting (the per-client limit QUEUE_LIMIT_PER_CLIENT); try again in about ${retryAfterS} s, when one has finished`,
    );
  }
}

/** Places of QUEUE_LIMIT kept for clients with nothing waiting: a fifth (none below a limit of 5). */
export function reservedPlaces(limit: number): number {
  return Math.floor(limit / 5);
}

/** Who asks, and the caps they are held to: what admission needs. */
export interface AdmissionOptions {
  /** Queued + running jobs of all clients beyond which requests are refused. */
  limit: number;
  /** Queued + running jobs of one client beyond which its requests are refused. */
  perClientLimit: number;
  /** Who asks (see lib/client-id.ts). */
  clientId: string;
  /** Jobs generated at once: the queue drains this many times faster. */
  concurrency?: number;
}

export interface EnqueueOptions extends AdmissionOptions {
  modelVersionId: string | null;
  /** An image-primed job's source picture (./source-image.ts), stored with it. */
  source?: Uint8Array;
}

/** Seconds per job before any has finished: about what the shipped model takes for 4 images on 2 cores. */
const FIRST_GUESS_S = 3;

/**
 * Throws QueueFullError when the caps refuse this client now: every door that adds work for a client (a queued
 * job, a browser generation to decode and store) asks here, so all are held to the same limits.
 */
export async function admit(db: Db, o: AdmissionOptions): Promise<void> {
  const [pending, mine, waiting] = await Promise.all([
    countPending(db),
    countPendingForClient(db, o.clientId),
    countQueuedForClient(db, o.clientId),
  ]);
  const reserved = waiting > 0 && pending >= o.limit - reservedPlaces(o.limit);
  if (mine < o.perClientLimit && pending < o.limit && !reserved) return;
  const perJob = (await recentJobSeconds(db)) ?? FIRST_GUESS_S;
  const concurrency = Math.max(1, o.concurrency ?? 1);
  if (mine >= o.perClientLimit || (reserved && pending < o.limit)) {
    // The client's oldest job must finish (its cap) or start (the reserved places): wait for the jobs ahead of it
    // in the fair order, and it.
    const position = await queuePositionOfClient(db, o.clientId);
    const retryAfterS = Math.max(1, Math.ceil((perJob * position) / concurrency));
    throw new QueueFullError(mine >= o.perClientLimit ? "client" : "reserved", mine >= o.perClientLimit ? mine : pending, retryAfterS);
  }
  // A slot frees when the job at the head finishes; beyond the limit each extra waiting job adds one more.
  throw new QueueFullError("global", pending, Math.max(1, Math.ceil((perJob * (pending - o.limit + 1)) / concurrency)));
}

export async function enqueue(db: Db, params: GenerationParams, o: EnqueueOptions): Promise<{ id: string; seed: number }> {
  await admit(db, o);
  const seed = params.seed ?? Math.floor(Math.random() * 2 ** 31);
  const { prompt, ...rest } = params;
  if ((rest.keepRows !== undefined) !== (o.source !== undefined))
    throw new Error("a primed job needs both keepRows and its source picture");
  return createGeneration(db, {
    prompt,
    params: { ...rest, seed },
    seed,
    modelVersionId: o.modelVersionId,
    clientId: o.clientId,
    source: o.source ?? null,
  });
}
