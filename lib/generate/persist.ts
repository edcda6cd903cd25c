// Retrying a worker's database write while the database refuses writes, without ever waiting for good: each attempt
// has a time limit (a call that never settles counts as failed), and the retries have a deadline, after which the
// worker lets the job go — its lease lapses and a sweep re-queues it or fails it, so the job still ends. Before
// this, a write that hung (a connection wedged by a failed COMMIT) held its generation thread forever.

export interface PersistOptions {
  /** First and longest pause between attempts (the pause doubles). */
  retryMs: [number, number];
  /** Longest one attempt may take before it counts as failed. */
  attemptMs: number;
  /** Longest all attempts together may take; then the write is given up. */
  deadlineMs: number;
  /** True once the worker stops: no more attempts. */
  stopped: () => boolean;
  /** Every failed attempt, with the pause before the next (null: none follows). */
  onError: (err: unknown, pause: number | null) => void;
  /** Every attempt that settled, failed or not: the worker is making progress. */
  onSettled?: () => void;
}

/** Why the write was not done: the worker stopped, or the deadline passed. */
export type GaveUp = { gaveUp: "stopped" | "deadline" };

export class AttemptTimedOut extends Error {
  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
  }
}

/** Runs `write` until it succeeds; resolves to its result, or to GaveUp. Never rejects. */
export async function persist<T>(write: () => Promise<T>, o: PersistOptions): Promise<{ value: T } | GaveUp> {
  const deadline = performance.now() + o.deadlineMs;
  const [first, longest] = o.retryMs;
  for (let pause = first; ; pause = Math.min(longest, pause * 2)) {
    try {
      const value = await withTimeout(write(), Math.min(o.attemptMs, Math.max(1, deadline - performance.now())));
      o.onSettled?.();
      return { value };
    } catch (err) {
      o.onSettled?.();
      const left = deadline - performance.now();
      const last = o.stopped() || left <= 0;
      o.onError(err, last ? null : Math.min(pause, left));
      if (o.stopped()) return { gaveUp: "stopped" };
      if (left <= 0) return { gaveUp: "deadline" };
      await new Promise((r) => setTimeout(r, Math.min(pause, left)));
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AttemptTimedOut(ms)), ms)));
  // A late settlement of `p` is dropped; its rejection must not go unhandled.
  p.catch(() => {});
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
