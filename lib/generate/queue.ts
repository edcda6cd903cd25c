// Admission to the generation queue: a global cap (QUEUE_LIMIT) so the server never promises more than it can do,
// and a per-client cap (QUEUE_LIMIT_PER_CLIENT) so one client looping requests cannot take every slot. A refusal
// says which cap was hit and when to come back, estimated from how long recent jobs really took.
import type { Db } from "../db/client";
import { countPending, countPendingForClient, createGeneration, queuePositionOfClient, recentJobSeconds } from "../db/generations";
import type { GenerationParams } from "./params";

export { GenerationParams } from "./params";

export class QueueFullError extends Error {
  constructor(
    readonly limit: "global" | "client",
    readonly pending: number,
    readonly retryAfterS: number,
  ) {
    super(
      limit === "global"
        ? `the queue is full (${pending} jobs waiting, the server's limit QUEUE_LIMIT); try again in about ${retryAfterS} s`
        : `you already have ${pending} jobs waiting (the per-client limit QUEUE_LIMIT_PER_CLIENT); try again in about ${retryAfterS} s, when one has finished`,
    );
  }
}

export interface EnqueueOptions {
  /** Queued + running jobs of all clients beyond which requests are refused. */
  limit: number;
  /** Queued + running jobs of one client beyond which its requests are refused. */
  perClientLimit: number;
  /** Who asks (see lib/client-id.ts). */
  clientId: string;
  modelVersionId: string | null;
  /** Jobs generated at once: the queue drains this many times faster. */
  concurrency?: number;
  /** An image-primed job's source picture (./source-image.ts), stored with it. */
  source?: Uint8Array;
}

/** Seconds per job before any has finished: about what the shipped model takes for 4 images on 2 cores. */
const FIRST_GUESS_S = 3;

export async function enqueue(db: Db, params: GenerationParams, o: EnqueueOptions): Promise<{ id: string; seed: number }> {
  const [pending, mine] = await Promise.all([countPending(db), countPendingForClient(db, o.clientId)]);
  if (mine >= o.perClientLimit || pending >= o.limit) {
    const perJob = (await recentJobSeconds(db)) ?? FIRST_GUESS_S;
    const concurrency = Math.max(1, o.concurrency ?? 1);
    if (mine >= o.perClientLimit) {
      // The client may queue again once its oldest job has finished: wait for everything ahead of it, and it.
      const position = await queuePositionOfClient(db, o.clientId);
      throw new QueueFullError("client", mine, Math.max(1, Math.ceil((perJob * position) / concurrency)));
    }
    // A slot frees when the job at the head finishes; beyond the limit each extra waiting job adds one more.
    throw new QueueFullError("global", pending, Math.max(1, Math.ceil((perJob * (pending - o.limit + 1)) / concurrency)));
  }
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
