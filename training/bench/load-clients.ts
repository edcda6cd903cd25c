// What the load scripts of issue 30 (health-under-vae.ts, fair-queue.ts) share: the real server (npm start, through
// ./http.ts's startServer) with its own database and build folder, and HTTP requests sent from a chosen loopback
// address (127.0.0.2, 127.0.0.3, …), which the server sees as separate clients: it derives a client's id from the
// socket's address (lib/client-id.ts; TRUST_PROXY is off).
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { percentile, startServer, type Server } from "./http";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  ms: number;
}

/** One request from `from` (a local address), JSON in and out. */
export function send(base: string, method: string, url: string, o: { from?: string; body?: unknown } = {}): Promise<Answer> {
  const started = performance.now();
  const data = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${url}`,
      {
        method,
        localAddress: o.from,
        // A fresh connection per request: no pooled socket carries one client's requests as another's.
        agent: false,
        headers: data ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started });
        });
        res.on("error", reject);
      },
    );
    req.on("error", (e) => reject(new Error(`${method} ${url} from ${o.from ?? "default"}: ${e.message}`)));
    req.end(data);
  });
}

/** The n-th separate client address: 127.0.0.2, 127.0.0.3, … */
export const clientAddress = (n: number) => `127.0.0.${2 + n}`;

export const stats = (ms: number[]) => ({
  n: ms.length,
  p50Ms: Math.round(percentile(ms, 50)),
  p95Ms: Math.round(percentile(ms, 95)),
  maxMs: Math.round(Math.max(...ms)),
});

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `npm start` on a fresh SQLite database under data/<name>/ (or `pgUrl`) and its own build folder (so it never
 * races the e2e tests' build), and resolves once /api/health reports the model loaded. stop() on exit and signals.
 */
export async function liveServer(
  name: string,
  o: { modelDir: string; pgUrl?: string; env?: Record<string, string>; log: (s: string) => void },
) {
  const dataDir = path.join("data", name);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const server: Server = await startServer({
    TESSERA_MODEL_DIR: o.modelDir,
    TESSERA_EXTRA_MODEL_DIRS: "",
    TESSERA_DIST_DIR: ".next-e2e", // as training/bench/http.ts: a dist folder tsconfig.json already knows
    DATABASE_URL: o.pgUrl ?? `file:./${dataDir}/tessera.db`,
    IMAGE_STORE: path.join(dataDir, "images"),
    // The defaults the targets are stated for: QUEUE_LIMIT 20, 4 per client, 32 connections per client.
    QUEUE_LIMIT: "20",
    QUEUE_LIMIT_PER_CLIENT: "4",
    CONNECTIONS_PER_CLIENT: "32",
    ...o.env,
  });
  const stop = () => server.stop();
  process.on("exit", stop);
  for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => (stop(), process.exit(130)));
  o.log(`starting the server on ${server.base} (building into .next-e2e if needed; minutes on a busy machine)…`);
  const deadline = Date.now() + 900_000;
  for (;;) {
    const h = await send(server.base, "GET", "/api/health").catch(() => null);
    if ((h?.body as { model?: { loaded?: boolean } } | undefined)?.model?.loaded) break;
    if (Date.now() > deadline) throw new Error(`the server on ${server.base} did not become ready within 15 minutes`);
    await sleep(500);
  }
  return { base: server.base, stop };
}

/** Polls a job until it is done or failed (or `until` says stop); its JSON. */
export async function jobWhen(
  base: string,
  id: string,
  until: (job: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const a = await send(base, "GET", `/api/generations/${id}`);
    const job = a.body as Record<string, unknown>;
    if (until(job) || job.status === "done" || job.status === "failed") return job;
    await sleep(200);
  }
}
