// Named queries for generations a visitor's browser sampled (issue 33). Such a generation is written as a running
// job held by a one-off lease, then finished with completeJob, the same write as any worker's (files first, rows in
// one transaction): it is never "queued", so no worker can claim it and generate it again on the server.
import { randomUUID } from "node:crypto";
import type { Db } from "./client";
import { completeJob, deleteGeneration } from "./generations";
import type { JobOutput } from "./images";

/** Where a generation's codes were sampled: stored in its params, shown as "made in the browser". */
export const MADE_IN_BROWSER = "browser";

/** Whether a generation's stored params say its codes were sampled in a visitor's browser. */
export function madeInBrowser(params: unknown): boolean {
  return typeof params === "object" && params !== null && (params as { madeIn?: unknown }).madeIn === MADE_IN_BROWSER;
}

export interface BrowserGenerationRow {
  prompt: string;
  params: object;
  seed: number;
  modelVersionId: string;
  clientId: string;
}

/** Stores a finished browser generation with its images; returns its id. Nothing is left behind when it fails. */
export async function storeBrowserGeneration(
  db: Db,
  row: BrowserGenerationRow,
  output: JobOutput,
  timings: Record<string, number>,
): Promise<{ id: string }> {
  const workerId = `browser:${randomUUID()}`;
  const now = new Date();
  const { id } = await db.generation.create({
    data: {
      ...row,
      params: { ...row.params, madeIn: MADE_IN_BROWSER },
      status: "running",
      workerId,
      // Long enough for one decode and write; were this process to die first, the sweep would find it expired.
      leaseUntil: new Date(now.getTime() + 60_000),
      startedAt: now,
      attempts: 1,
    },
    select: { id: true },
  });
  try {
    if (!(await completeJob(db, id, workerId, output, timings, row.modelVersionId)))
      throw new Error(`generation ${id} could not be stored`);
  } catch (err) {
    await deleteGeneration(db, id).catch(() => {});
    throw err;
  }
  return { id };
}
