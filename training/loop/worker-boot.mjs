// A data-parallel training worker's first module: worker threads do not inherit tsx's TypeScript loader, so it
// registers tsx and then imports the real entry (worker.ts) that the pool names in workerData.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
