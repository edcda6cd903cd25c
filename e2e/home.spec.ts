import { expect, test } from "@playwright/test";
import pkg from "../package.json" with { type: "json" };
import { HomePage } from "./pages/home-page";

test("the home page shows Tessera and a live system status", async ({ page }) => {
  const home = new HomePage(page);
  await home.goto();
  await expect(page).toHaveTitle("Tessera");
  await expect(home.title).toHaveText("Tessera");
  await expect(home.overallStatus).toHaveText("ok");
  await expect(home.backend).toContainText("wasm");
  await expect(home.database).toContainText(/sqlite, reachable \(\d+(\.\d+)? ms\)/);
  // A fresh database registers the shipped model (models/default) as the active version at first start.
  await expect(home.model).toContainText("default");
  await expect(home.noModelNotice).toHaveCount(0);
});

test("the home page fits a phone-width screen", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  const home = new HomePage(page);
  await home.goto();
  await expect(home.title).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test("/api/health reports backend, database, model and version as JSON", async ({ request }) => {
  const res = await request.get("/api/health");
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("application/json");
  expect(res.headers()["cache-control"]).toContain("no-store");
  const body = await res.json();
  expect(body).toMatchObject({
    status: "ok",
    version: pkg.version,
    backend: { name: "wasm" },
    db: { reachable: true, provider: "sqlite" },
    model: { active: "default" },
  });
  expect(body.db.latencyMs).toBeGreaterThanOrEqual(0);
  expect(typeof body.model.loaded).toBe("boolean");
});

test("an unknown address shows the not-found page with a 404", async ({ page }) => {
  const res = await page.goto("/no-such-page");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
});
