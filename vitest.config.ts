import path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Files that run alone, after the rest: the ones whose assertions are about time (a fault must heal, a slow client
 * be cut off, within seconds). The PostgreSQL files (TESSERA_TEST_PG_URL) run beside the others: each makes a
 * database of its own on that server (test/fixtures/scratch-db.ts ownPgDatabase).
 */
const SERIAL = ["lib/generate/faults.test.ts", "lib/http/connections.test.ts"];

/**
 * `npm run bench -- --smoke` end to end: most of its time is `next build` (a process of its own), so it starts first,
 * beside the shared files, instead of last — alone at the end it kept one core idle for 80 s of a 321 s quiet unit
 * run. The e2e tests later find the build it made.
 */
const BENCH = ["training/bench/bench.test.ts"];

/**
 * Files that share their worker's module cache (isolate: false): model, data, generation and training code, whose
 * tests set no environment, mock nothing and assert on no process-wide state (each checked passing with the files
 * shuffled). With a fresh process per file, importing tfjs, ONNX Runtime and the models took 122 s (summed over both
 * workers) of a 399 s quiet unit run. lib/tensor's backend tests (backend selection is process state), the API, the
 * admin sessions, the health report and the database stay isolated.
 */
const SHARED = [
  "lib/model/**/*.test.ts",
  "lib/text/**/*.test.ts",
  "lib/data/**/*.test.ts",
  "lib/generate/**/*.test.ts",
  "lib/browser/**/*.test.ts",
  "lib/tensor/batched-matmul.test.ts",
  "lib/lab.test.ts",
  "lib/client-id.test.ts",
  "lib/http/guard.test.ts",
  "training/**/*.test.ts",
];

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    environment: "node",
    // A process per worker (tfjs backends are process-global); files outside SHARED get a fresh one each.
    pool: "forks",
    testTimeout: 60_000,
    // Set-up hooks write tiny models and migrate databases: on a busy machine (training on both cores) the
    // default 10 s is not enough.
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: SHARED,
          exclude: [...SERIAL, ...BENCH],
          isolate: false,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        // Projects with one groupOrder share one pool of workers (so they must agree on maxWorkers), and vitest's
        // sequencer hands out their files project by project in name order: "bench" before "shared".
        test: { name: "bench", include: BENCH, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // Two files at a time on this 2-core machine: much of a file's time is its imports and waits, not its maths.
        test: {
          name: "parallel",
          include: ["{app,lib,training,scripts,test}/**/*.test.ts"],
          exclude: [...SERIAL, ...SHARED, ...BENCH],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: { name: "serial", include: SERIAL, fileParallelism: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
