// `npm run test:e2e`: make sure Debian's Chromium is there (installing it with apt-get when we are root), start
// from an empty e2e database, then run Playwright. Extra arguments go to `playwright test`.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function ensureChromium(): void {
  if (fs.existsSync(chromium)) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || process.env.CHROMIUM_PATH) {
    console.error(
      `[e2e] Chromium not found at ${chromium}. Install Debian's build with:\n` +
        "    sudo apt-get update && sudo apt-get install -y chromium\n" +
        "or point CHROMIUM_PATH at a Chromium or Chrome binary. (`npx playwright install` cannot download browsers here.)",
    );
    process.exit(1);
  }
  console.log("[e2e] Chromium is missing; installing Debian's package (apt-get install -y chromium)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
  if (!fs.existsSync(chromium)) {
    console.error(`[e2e] apt-get finished but ${chromium} is still missing.`);
    process.exit(1);
  }
}

ensureChromium();
if (!process.env.E2E_DATABASE_URL) fs.rmSync(path.join("data", "e2e"), { recursive: true, force: true });
const result = spawnSync(path.join("node_modules", ".bin", "playwright"), ["test", ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(result.status ?? 1);
