import path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["{app,lib,training,scripts,test}/**/*.test.ts"],
    environment: "node",
    // One fork at a time: tfjs backends are process-global and this machine has two cores.
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    // Set-up hooks write tiny models and migrate databases: on a busy machine (training on both cores) the
    // default 10 s is not enough.
    hookTimeout: 60_000,
  },
});
