// A worker's write retry never waits for good: a call that never settles times out, a write that keeps failing is
// given up at the deadline, and a fault that heals before it is ridden out.
import { describe, expect, it } from "vitest";
import { AttemptTimedOut, persist, type PersistOptions } from "./persist";

const options = (o: Partial<PersistOptions> = {}): PersistOptions => ({
  retryMs: [10, 40],
  attemptMs: 100,
  deadlineMs: 500,
  stopped: () => false,
  onError: () => {},
  ...o,
});

describe("persist", { timeout: 5000 }, () => {
  it("gives up at the deadline on a write that never settles (a wedged connection), each attempt timed out", async () => {
    const errors: unknown[] = [];
    const started = performance.now();
    const outcome = await persist(() => new Promise<never>(() => {}), options({ onError: (err) => errors.push(err) }));
    const ms = performance.now() - started;
    expect(outcome).toEqual({ gaveUp: "deadline" });
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(2000);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(errors.every((e) => e instanceof AttemptTimedOut)).toBe(true);
  });

  it("gives up at the deadline on a write that keeps failing, and says so on its last error", async () => {
    const pauses: (number | null)[] = [];
    const outcome = await persist(() => Promise.reject(new Error("disk I/O error")), options({ onError: (_, p) => pauses.push(p) }));
    expect(outcome).toEqual({ gaveUp: "deadline" });
    expect(pauses.at(-1)).toBeNull();
    expect(pauses.slice(0, 3)).toEqual([10, 20, 40]);
  });

  it("rides out a fault that heals before the deadline, and stops retrying once the worker stops", async () => {
    let calls = 0;
    const healed = await persist(async () => (++calls < 4 ? Promise.reject(new Error("disk I/O error")) : "stored"), options());
    expect(healed).toEqual({ value: "stored" });
    expect(calls).toBe(4);
    let stopped = false;
    const stopping = await persist(
      () => Promise.reject(new Error("readonly database")),
      options({ deadlineMs: 60_000, onError: () => (stopped = true), stopped: () => stopped }),
    );
    expect(stopping).toEqual({ gaveUp: "stopped" });
  });
});
