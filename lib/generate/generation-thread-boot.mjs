// A generation thread's first module (see threads.ts; the VAE threads of vae-threads.ts boot through it too): worker
// threads do not inherit tsx's TypeScript loader, and under `npm start` the pool runs inside Next's bundled server
// code, so the thread registers tsx itself and then imports the real entry (generation-thread.ts, vae-thread.ts)
// from the source tree, by the file URL the pool puts in workerData.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
