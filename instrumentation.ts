// Next.js calls register() once when the server boots: choose the tensor backend (its choice is logged at start-up
// and the first request does not pay for loading the wasm binaries), start the generation service (re-queues jobs
// a previous process left running) and warm the active model up in the background (in the generation threads).
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { initBackend } = await import("./lib/tensor/backend");
  await initBackend().catch((err: unknown) => console.error(`[tessera] ${(err as Error).message}`));
  // `next build` runs this too, to collect page data: no worker and no model there.
  if (process.env.NEXT_PHASE === "phase-production-build") return;
  // Generates (and prints once) the admin token if ADMIN_TOKEN is unset and none was saved yet.
  (await import("./lib/admin")).adminToken();
  const { generationService } = await import("./lib/generate/service");
  generationService()
    .then(async ({ registry, threads }) => {
      // With worker threads (WORKER_THREADS ≥ 1) each thread loads and warms the model it generates with; this
      // thread loads one only when a request needs it here (tokenize, search by meaning).
      if (threads) return;
      const lease = await registry.acquire();
      console.info(`[tessera] model ${lease.name} loaded and warmed up`);
      lease.release();
    })
    .catch((err: unknown) => console.warn(`[tessera] generation unavailable: ${(err as Error).message}`));
}
