// `npx tsx training/bench/health-under-vae.ts [--clients 16] [--seconds 30] [--model-dir models/default] [--pg URL]`
// Issue 30 part 3's measurement: /api/health latency while `--clients` separate clients (127.0.0.2, …) loop
// variations (k 8) and blends (8 frames) on the real server; the target is health p95 ≤ 50 ms with 16 clients.
// Prints JSON: health idle and under load, and the VAE requests (answered, refused, latency). Needs the model's VAE
// (<model dir>/lab/vae). Run it on a quiet machine: anything else on the cores shows up in the numbers.
import path from "node:path";
import { z } from "zod";
import { parseFlags, runMain } from "../cli";
import { clientAddress, jobWhen, liveServer, send, sleep, stats } from "./load-clients";

const USAGE = "usage: npx tsx training/bench/health-under-vae.ts [--clients N] [--seconds S] [--model-dir DIR] [--pg URL]";
const Flags = z.object({
  clients: z.coerce.number().int().min(1).max(200).default(16),
  seconds: z.coerce.number().min(2).max(3600).default(30),
  modelDir: z.string().default(path.join("models", "default")),
  pg: z.string().optional(),
});

runMain("bench:health-under-vae", async () => {
  const f = parseFlags(process.argv.slice(2), Flags, USAGE);
  const log = (s: string) => console.error(`[health-under-vae] ${s}`);
  const server = await liveServer("bench-vae", { modelDir: f.modelDir, pgUrl: f.pg, log });
  try {
    const base = server.base;
    // Two gallery images to vary and blend: one real generation of two.
    const posted = await send(base, "POST", "/api/generations", { body: { prompt: "red heart", n: 2, seed: 1 } });
    if (posted.status !== 202) throw new Error(`POST /api/generations answered ${posted.status}: ${JSON.stringify(posted.body)}`);
    const job = await jobWhen(base, (posted.body as { id: string }).id, () => false);
    const images = (job.images as { id: string }[] | undefined)?.map((i) => i.id) ?? [];
    if (job.status !== "done" || images.length < 2) throw new Error(`the seed generation ended ${job.status}: ${String(job.error)}`);
    const probe = await send(base, "POST", `/api/images/${images[0]}/variations`, { body: { k: 1 } });
    if (probe.status !== 200) throw new Error(`variations answered ${probe.status}: ${JSON.stringify(probe.body)}`);

    const healthFor = async (seconds: number) => {
      const ms: number[] = [];
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        ms.push((await send(base, "GET", "/api/health")).ms);
        await sleep(50);
      }
      return ms;
    };
    log("health on an idle server…");
    const idle = await healthFor(Math.min(5, f.seconds));
    log(`${f.clients} clients looping variations and blends for ${f.seconds} s…`);
    const vaeMs: number[] = [];
    const statuses: Record<string, number> = {};
    const end = Date.now() + f.seconds * 1000;
    const clients = Array.from({ length: f.clients }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const a =
          i % 2 === 0
            ? await send(base, "POST", `/api/images/${images[c % 2]}/variations`, { from: clientAddress(c), body: { k: 8, seed: i } })
            : await send(base, "POST", "/api/blend", { from: clientAddress(c), body: { a: images[0], b: images[1], steps: 8 } });
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
        if (a.status === 200) vaeMs.push(a.ms);
        else await sleep(1000 * Number(a.headers["retry-after"] ?? 1));
      }
    });
    const [loaded] = await Promise.all([healthFor(f.seconds), ...clients]);
    const health = stats(loaded);
    console.log(
      JSON.stringify(
        {
          clients: f.clients,
          seconds: f.seconds,
          database: f.pg ? "postgresql" : "sqlite",
          healthIdle: stats(idle),
          healthUnderLoad: health,
          vaeRequests: { statuses, ...stats(vaeMs), perS: Math.round((vaeMs.length / f.seconds) * 10) / 10 },
          target: { healthP95Ms: 50, met: health.p95Ms <= 50 },
        },
        null,
        2,
      ),
    );
  } finally {
    server.stop();
  }
});
