// The health report tells the truth: "degraded", with the reason, when the database takes reads but not writes or
// when the active model failed to load — and its messages carry no absolute filesystem paths.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceSandbox, stopService } from "../test/fixtures/service";
import { POST as tokenize } from "../app/api/tokenize/route";
import { getDb } from "./db/client";
import { generationService } from "./generate/service";
import { getHealth } from "./health";
import { selectBackend } from "./tensor/backend";

let dir: string;
let file: string;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = await serviceSandbox("tessera-health-", "no-model-here");
  file = path.join(dir, "test.db");
});
afterAll(() => stopService(dir));

describe("health", () => {
  it("is ok with a writable database and no model, and degraded while the database refuses writes", async () => {
    expect(await getHealth()).toMatchObject({ status: "ok", reasons: [], db: { reachable: true, writable: true } });
    const side = new Database(file);
    side.exec("BEGIN EXCLUSIVE");
    try {
      const h = await getHealth();
      expect(h.status).toBe("degraded");
      expect(h.db).toMatchObject({ reachable: true, writable: false });
      expect(h.reasons.join(" ")).toMatch(/does not accept writes/);
    } finally {
      side.exec("ROLLBACK");
      side.close();
    }
    expect((await getHealth()).status).toBe("ok");
  }, 30_000);

  it("is degraded when the active model failed to load, and the API says so instead of 'no model is active'", async () => {
    const broken = path.join(dir, "broken-model");
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, "manifest.json"), "{ not json");
    await getDb().modelVersion.create({ data: { name: "broken", kind: "dalle", path: broken, config: {}, active: true } });
    const { registry } = await generationService();
    await expect(registry.acquire()).rejects.toThrow();
    const h = await getHealth();
    expect(h.status).toBe("degraded");
    expect(h.model).toMatchObject({ active: "broken", loaded: false, rerank: false });
    expect(h.reasons.join(" ")).toMatch(/the active model broken failed to load/);
    expect(JSON.stringify(h)).not.toContain(dir);
    const res = await tokenize(
      new Request("http://t", { method: "POST", body: JSON.stringify({ prompt: "hi" }), headers: { "Content-Type": "application/json" } }),
    );
    expect(res.status).toBe(503);
    const message = (await res.json()).error.message as string;
    expect(message).toMatch(/the active model broken could not be loaded/);
    expect(message).not.toContain(dir);
  });
});
