// Browser tests against the real server (`npm start`) on its own port and its own database, driving Debian's
// Chromium (Playwright's bundled browsers cannot be downloaded here). Run through `npm run test:e2e`.
import { defineConfig } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "e2e",
  testMatch: "**/*.spec.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  timeout: 60_000,
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "npm start",
    url: `${baseURL}/api/health`,
    // The first run builds the app; give it room on a 2-core machine.
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: process.env.E2E_DATABASE_URL ?? "file:./data/e2e/tessera.db",
      NEXT_TELEMETRY_DISABLED: "1",
      TESSERA_DIST_DIR: ".next-e2e",
      ADMIN_TOKEN: process.env.E2E_ADMIN_TOKEN ?? "e2e-admin-token",
      // The shipped model unless a test run names another folder.
      TESSERA_MODEL_DIR: process.env.TESSERA_MODEL_DIR ?? "models/default",
    },
  },
});
