// Which generation workers of this process are alive, so that a sweep re-queues at once the jobs of a worker that
// is gone (its thread exited, or a restarted container reused the pid) and never those of a live one.
//
// A worker id is `host:pid:slot.token`. The liveness of this process's ids lives in one Int32Array on a
// SharedArrayBuffer: slot i holds the token of the worker that owns it, 0 when free. The main thread makes it and
// hands it to every generation thread (./threads.ts), which adopts it before it builds its worker, so all threads
// judge every id of the process alike. (A Set per module, as this was before, is per thread: one thread's sweep
// took its siblings' running jobs for dead.) A worker claims a slot with compareExchange, so any thread may claim
// one without a lock; the pool releases a thread's slot when that thread exits, so its jobs are taken over at once.
import os from "node:os";
import { randomInt } from "node:crypto";

/** Workers alive at once in one process, all threads together (each GenerationWorker holds one slot for good). */
const SLOTS = 1024;

// On globalThis because Next bundles routes separately: one table per thread, not one per bundled copy.
const state = globalThis as unknown as { tesseraLiveness?: Int32Array };

function table(): Int32Array {
  state.tesseraLiveness ??= new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  return state.tesseraLiveness;
}

/** This process's table, to hand to a generation thread (shared memory, not a copy). */
export function liveTable(): Int32Array {
  return table();
}

/** In a generation thread, before any worker exists: judge and claim ids in the main thread's table. */
export function adoptLiveTable(shared: Int32Array): void {
  if (!(shared.buffer instanceof SharedArrayBuffer)) throw new Error("the liveness table must be shared memory");
  state.tesseraLiveness = shared;
}

export interface LiveId {
  /** `host:pid:slot.token`, stored on the jobs this worker claims. */
  id: string;
  /** Marks the id dead (idempotent): a sweep anywhere in the process takes its jobs over at once. */
  release(): void;
}

/** A new worker id, alive until released. */
export function claimLiveId(): LiveId {
  const t = table();
  const token = randomInt(1, 2 ** 31 - 1);
  for (let slot = 0; slot < t.length; slot++) {
    if (Atomics.compareExchange(t, slot, 0, token) !== 0) continue;
    return {
      id: `${os.hostname()}:${process.pid}:${slot}.${token.toString(36)}`,
      release: () => void Atomics.compareExchange(t, slot, token, 0),
    };
  }
  throw new Error(`more than ${SLOTS} generation workers in one process`);
}

/**
 * True for a worker id of this host whose process no longer runs. An id with this process's pid is dead unless its
 * slot holds its token: a restarted server can get its predecessor's pid (pid 1 in a container), and a thread that
 * exited has released its slot.
 */
export function workerIsDeadOnThisHost(workerId: string): boolean {
  const [host, pid, rest] = workerId.split(":");
  if (host !== os.hostname() || !/^\d+$/.test(pid ?? "")) return false;
  if (Number(pid) === process.pid) {
    const m = /^(\d+)\.([0-9a-z]+)$/.exec(rest ?? "");
    if (!m) return true; // an id of another format (an older version's) with our pid is a predecessor's
    const slot = Number(m[1]);
    const t = table();
    return slot >= t.length || Atomics.load(t, slot) !== parseInt(m[2], 36);
  }
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
