// `npm start`: apply the database migrations, build the app if its sources changed since the last build, and
// serve it on PORT (default 3000). `npm run dev` does the same with Next's dev server and no build.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { imageStore } from "../lib/db/image-store";
import { migrate } from "../lib/db/migrate";
import { parseDatabaseUrl, redact } from "../lib/db/url";
import { connectionLimitsFromEnv, type ConnectionLimits } from "../lib/http/connections";
import { serve } from "./server";

const Env = z.object({
  PORT: z.coerce
    .number({ error: "PORT must be a number" })
    .int("PORT must be a whole number")
    .min(1, "PORT must be 1–65535")
    .max(65535, "PORT must be 1–65535")
    .default(3000),
  /** The address to listen on: loopback unless you choose otherwise (0.0.0.0 for every interface). */
  HOST: z.string().min(1).default("127.0.0.1"),
  /** "1" behind a reverse proxy that sets X-Forwarded-For / X-Forwarded-Proto; anyone could forge them otherwise. */
  TRUST_PROXY: z.enum(["0", "1", "true", "false"], { error: "TRUST_PROXY must be 1 or 0" }).default("0"),
});

const root = process.cwd();
const dev = process.argv.includes("--dev");

/** Inputs of `next build`: when any is newer than the last build, the build is stale. */
const BUILD_INPUTS = [
  "app",
  "components",
  "lib",
  "public",
  "instrumentation.ts",
  "next.config.js",
  "postcss.config.mjs",
  "package.json",
  "tsconfig.json",
];

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, entry)));
  return newest;
}

function buildIsStale(): string | null {
  const stamp = path.join(root, process.env.TESSERA_DIST_DIR || ".next", "BUILD_ID");
  if (!fs.existsSync(stamp)) return "no build yet";
  const built = fs.statSync(stamp).mtimeMs;
  const changed = BUILD_INPUTS.find((p) => newestMtime(path.join(root, p)) > built);
  return changed ? `${changed} changed since the last build` : null;
}

function next(args: string[]): Promise<number> {
  const bin = path.join(root, "node_modules", ".bin", "next");
  const child = spawn(bin, args, { stdio: "inherit", env: { NEXT_TELEMETRY_DISABLED: "1", ...process.env } });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) =>
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolve(code ?? (signal ? 1 : 0));
    }),
  );
}

async function main(): Promise<number> {
  const env = Env.safeParse(process.env);
  if (!env.success) {
    console.error(`[tessera] bad environment: ${env.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    return 2;
  }
  let limits: ConnectionLimits;
  try {
    limits = connectionLimitsFromEnv();
  } catch (err) {
    console.error(`[tessera] bad environment: ${(err as Error).message}`);
    return 2;
  }
  const target = parseDatabaseUrl(process.env.DATABASE_URL, root);
  const where = target.provider === "sqlite" ? path.relative(root, target.file) || target.file : redact(target.url);
  const migrated = await migrate(process.env.DATABASE_URL, root);
  console.log(
    `[tessera] database: ${target.provider} ${where}; ` +
      (migrated.applied.length ? `applied ${migrated.applied.join(", ")}` : "schema up to date"),
  );

  // An image folder (IMAGE_STORE) that cannot be written stops the server now, not at its first finished job.
  console.log(`[tessera] images: ${imageStore().description}`);

  const trustProxy = env.data.TRUST_PROXY === "1" || env.data.TRUST_PROXY === "true";
  const options = { port: env.data.PORT, host: env.data.HOST, trustProxy, limits };
  if (trustProxy && limits.perClient > 0)
    console.log(
      "[tessera] behind a proxy (TRUST_PROXY=1): CONNECTIONS_PER_CLIENT is not applied; limit connections per client at the proxy",
    );
  // Telemetry would only try to reach a host this machine cannot reach.
  process.env.NEXT_TELEMETRY_DISABLED ??= "1";
  if (dev) {
    await serve({ ...options, dev: true });
    console.log(`[tessera] dev server on http://${env.data.HOST}:${env.data.PORT}`);
    return new Promise<number>(() => {});
  }

  const stale = buildIsStale();
  if (stale) {
    console.log(`[tessera] building the app (${stale})…`);
    const code = await next(["build"]);
    if (code !== 0) {
      console.error("[tessera] next build failed; see the errors above.");
      return code;
    }
  }
  // NODE_ENV must say production before Next loads, as `next start` would set it.
  (process.env as Record<string, string>).NODE_ENV = "production";
  await serve({ ...options, dev: false });
  console.log(`[tessera] serving on http://${env.data.HOST}:${env.data.PORT}`);
  // Serve until a signal ends the process.
  return new Promise<number>(() => {});
}

for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[tessera] ${(err as Error).message}`);
    process.exit(1);
  },
);
