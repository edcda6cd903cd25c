// Jobs survive a crash: a real server process is killed (SIGKILL) while a job runs, started again on the same
// database, and finishes every job — the interrupted one re-queued at boot.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";

const PORT = 3101;
const BASE = `http://127.0.0.1:${PORT}`;
const DB_DIR = path.join("data", "e2e-restart");

function startServer(): ChildProcess {
  return spawn("npm", ["start"], {
    detached: true,
    stdio: "ignore",
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: "127.0.0.1",
      DATABASE_URL: `file:./${DB_DIR}/tessera.db`,
      TESSERA_DIST_DIR: ".next-e2e",
      TESSERA_MODEL_DIR: process.env.TESSERA_MODEL_DIR ?? "models/default",
      NEXT_TELEMETRY_DISABLED: "1",
    },
  });
}

async function waitHealthy(timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await fetch(`${BASE}/api/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the restarted server did not become healthy");
}

const kill = (p: ChildProcess) => {
  try {
    process.kill(-p.pid!, "SIGKILL");
  } catch {
    // already gone
  }
};

test("a job running when the server is killed is re-queued and finished after a restart", async () => {
  test.setTimeout(240_000);
  fs.rmSync(DB_DIR, { recursive: true, force: true });
  let server = startServer();
  try {
    await waitHealthy();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${BASE}/api/generations`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: `grinning face, noto ${i}`, n: 9, guidance: 10 }),
      });
      expect(res.status).toBe(202);
      ids.push((await res.json()).id);
    }
    // Wait until one job is running, then kill the whole server process group mid-job.
    let running: string | undefined;
    for (let t = 0; t < 400 && !running; t++) {
      for (const id of ids) {
        const job = await (await fetch(`${BASE}/api/generations/${id}`)).json();
        if (job.status === "running") running = id;
      }
      if (!running) await new Promise((r) => setTimeout(r, 50));
    }
    expect(running).toBeDefined();
    kill(server);
    await new Promise((r) => setTimeout(r, 500));

    server = startServer();
    await waitHealthy();
    const end = Date.now() + 180_000;
    let jobs: { id: string; status: string; error: string | null; note: string | null; images: unknown[] }[] = [];
    while (Date.now() < end) {
      jobs = await Promise.all(ids.map(async (id) => (await fetch(`${BASE}/api/generations/${id}`)).json()));
      if (jobs.every((j) => j.status === "done" || j.status === "failed")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const j of jobs) {
      expect(j.status).toBe("done");
      expect(j.images).toHaveLength(9);
      // A job that finished has no error, even the one interrupted on the way.
      expect(j.error).toBeNull();
    }
    expect(jobs.find((j) => j.id === running)?.note).toMatch(/interrupted .*re-queued/);
  } finally {
    kill(server);
  }
});
