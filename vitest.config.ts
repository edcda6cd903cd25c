import path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Files that run alone, after the rest: the ones that share the one scratch PostgreSQL database
 * (TESSERA_TEST_PG_URL; a claim test there would take another file's queued jobs) and the ones whose assertions are
 * about time (a fault must heal, a slow client be cut off, within seconds).
 */
const SERIAL = [
  "lib/db/db.test.ts",
  "lib/db/gallery-sort.test.ts",
  "lib/db/image-store.test.ts",
  "lib/db/job-claims.test.ts",
  "lib/db/priming-db.test.ts",
  "lib/db/search.test.ts",
  "scripts/worker.test.ts",
  "lib/generate/faults.test.ts",
  "lib/http/connections.test.ts",
];

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    environment: "node",
    // Every file in a process of its own (tfjs backends are process-global).
    pool: "forks",
    testTimeout: 60_000,
    // Set-up hooks write tiny models and migrate databases: on a busy machine (training on both cores) the
    // default 10 s is not enough.
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // Two files at a time on this 2-core machine: much of a file's time is its imports and waits, not its maths.
        test: {
          name: "parallel",
          include: ["{app,lib,training,scripts,test}/**/*.test.ts"],
          exclude: SERIAL,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "serial", include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
