// One generation thread of the pool (./threads.ts): its own tfjs backend, database client (getDb() from the same
// DATABASE_URL), model registry and GenerationWorker, which claims jobs from the shared queue under leases exactly
// as the in-process worker does, so threads share the queue as separate processes would. Every JobEvent the worker
// emits goes to the main thread, in order, and so does the thread's state for /api/health. The registry reads the
// active version from the database on every acquire, so an activation reaches each thread with its next job.
import { parentPort, workerData } from "node:worker_threads";
import { getDb } from "../db/client";
import { serverEnv } from "../env";
import { publicMessage } from "../errors";
import { initBackend } from "../tensor/backend";
import { adoptLiveTable } from "./liveness";
import { ModelRegistry } from "./registry";
import type { ThreadData, ThreadState, ToMain, ToThread } from "./threads";
import { GenerationWorker, type JobEvent } from "./worker";

const port = parentPort!;
const d = workerData as ThreadData;
const send = (m: ToMain) => port.postMessage(m);
const prefix = `[tessera] generation thread ${d.index}:`;
// The worker's lines start with "[tessera]": say which thread they come from.
const log = {
  info: (m: string) => console.info(m.replace("[tessera]", `[tessera] thread ${d.index}`)),
  error: (m: string) => console.error(m.replace("[tessera]", `[tessera] thread ${d.index}`)),
};

// Before anything claims an id: this thread judges (and the pool has claimed) ids in the process-wide table.
adoptLiveTable(d.live);

interface Running {
  worker: GenerationWorker;
  registry: ModelRegistry;
}

async function boot(): Promise<Running> {
  await initBackend({ log: { info() {}, warn: (m: string) => console.warn(`${prefix} ${m}`) } });
  const env = serverEnv();
  const registry = new ModelRegistry(getDb(), process.cwd(), env.MODELS_LOADED);
  const worker = new GenerationWorker(getDb(), registry, {
    id: d.workerId,
    concurrency: env.WORKER_CONCURRENCY,
    partialEvery: env.PARTIAL_EVERY,
    leaseMs: env.JOB_LEASE_MS,
    log,
  });
  // The worker publishes on an emitter keyed by job id, with no catch-all: wrap its emit so that every event also
  // goes to the main thread, in the order it was emitted.
  const running = { worker, registry };
  const emit = worker.events.emit.bind(worker.events);
  worker.events.emit = ((id: string | symbol, event: JobEvent) => {
    if (typeof id !== "string") return emit(id, event);
    // The state first, so that whoever sees a job end also sees the model it loaded (health) and the write errors.
    if (event.type === "done" || event.type === "failed") send({ type: "state", state: stateOf(running) });
    send({ type: "event", id, event });
    return emit(id, event);
  }) as typeof worker.events.emit;
  return running;
}

function stateOf(r: Running): ThreadState {
  return {
    busy: r.worker.busy,
    lastWriteError: r.worker.lastWriteError,
    loadedName: r.registry.loadedName,
    loadError: r.registry.loadError,
    lastProgressAt: r.worker.lastProgressAt,
  };
}

let stopping = false;
let stateTimer: NodeJS.Timeout | undefined;
const booted = boot();

port.on("message", (m: ToThread) => {
  // (Before the thread has booted, messages wait for it; if it cannot boot, it exits and they do not matter.)
  void booted.then(
    async (r) => {
      if (m.type === "notify") r.worker.notify();
      else if (m.type === "sweep") {
        const reply = await r.worker.sweep().then(
          (result) => ({ type: "swept", req: m.req, result }) as const,
          (err: unknown) => ({ type: "swept", req: m.req, error: publicMessage(err) }) as const,
        );
        send(reply);
      } else if (m.type === "stop" && !stopping) {
        stopping = true;
        clearInterval(stateTimer);
        // The batch in flight finishes and is stored first, as the in-process worker's stop does.
        await r.worker.stop();
        r.registry.dispose();
        await getDb().$disconnect();
        process.exit(0);
      }
    },
    () => {},
  );
});

booted.then(
  (r) => {
    if (stopping) return;
    r.worker.start();
    let state = stateOf(r);
    send({ type: "ready", state });
    // Health and the pool's watchdog read the state from the main thread: send it whenever it changed (busy, a
    // failed write, a load, progress); a thread stuck in a call or with a blocked event loop sends nothing.
    let last = JSON.stringify(state);
    stateTimer = setInterval(() => {
      state = stateOf(r);
      const json = JSON.stringify(state);
      if (json !== last) send({ type: "state", state });
      last = json;
    }, 200);
    // Load and warm the active model now, as the server does at boot, so the first job does not wait for it and
    // health says "loaded" without one. No active model yet is not worth a line; a model that fails to load is.
    r.registry.acquire().then(
      (lease) => lease.release(),
      (err: unknown) => r.registry.loadError && console.warn(`${prefix} cannot load the active model: ${publicMessage(err)}`),
    );
  },
  (err: unknown) => {
    // Not caught: the thread exits with an error and the pool restarts it after a pause.
    throw new Error(`${prefix} cannot start: ${publicMessage(err)}`);
  },
);
