// `npm run worker`: a generation worker with no HTTP. It applies the migrations, registers the shipped models the
// database lacks (as `npm start` does), and takes jobs from the same queue as every server and worker on that
// database (DATABASE_URL: PostgreSQL for several machines; a SQLite file is shared only by processes of one
// machine). Jobs are claimed under leases (lib/db/generations.ts): a worker that dies (kill -9, lost machine)
// leaves its jobs to the others once their lease expires, and no job is ever finished twice. SIGINT/SIGTERM stop
// it cleanly: the batch in flight finishes and is stored first.
import path from "node:path";
import { getDb } from "../lib/db/client";
import { imageStore } from "../lib/db/image-store";
import { migrate } from "../lib/db/migrate";
import { parseDatabaseUrl, redact } from "../lib/db/url";
import { serverEnv } from "../lib/env";
import { generationService } from "../lib/generate/service";
import { initBackend } from "../lib/tensor/backend";

const root = process.cwd();

async function main(): Promise<void> {
  // Bad settings stop the worker here with the variable named, as they stop the server.
  const env = serverEnv();
  const target = parseDatabaseUrl(process.env.DATABASE_URL, root);
  const where = target.provider === "sqlite" ? path.relative(root, target.file) || target.file : redact(target.url);
  const migrated = await migrate(process.env.DATABASE_URL, root);
  console.log(
    `[tessera] worker database: ${target.provider} ${where}; ` +
      (migrated.applied.length ? `applied ${migrated.applied.join(", ")}` : "schema up to date"),
  );
  // An image folder that cannot be written stops the worker now, not at its first finished job.
  console.log(`[tessera] worker images: ${imageStore().description}`);
  const backend = await initBackend();
  console.log(`[tessera] worker backend: ${backend.name} (${backend.detail}); engine ${env.GENERATION_ENGINE}`);
  const service = await generationService();
  console.log(`[tessera] worker ${service.worker.id} polling the queue (lease ${env.JOB_LEASE_MS} ms, batch ≤ ${env.MAX_BATCH})`);

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    // A second signal while stopping quits at once (its jobs are taken over when their leases expire).
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`[tessera] worker: ${signal}, finishing the batch in flight…`);
    await service.worker.stop();
    service.registry.dispose();
    await getDb().$disconnect();
    console.log("[tessera] worker stopped");
    process.exit(0);
  };
  process.on("SIGINT", (s) => void stop(s));
  process.on("SIGTERM", (s) => void stop(s));
}

main().catch((err: unknown) => {
  console.error(`[tessera] worker: ${(err as Error).message}`);
  process.exit(1);
});
