import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";
import { GalleryPage } from "./pages/gallery-page";

/** The Create form starts from the served model's measured sampling defaults (its manifest), else guidance 3. */
function modelGuidance(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(process.env.TESSERA_MODEL_DIR ?? "models/default", "manifest.json"), "utf8"));
  return String(manifest.extra?.sampling?.guidance ?? 3);
}

test("a new generation appears in the gallery, search finds it, and its page shows the parameters", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  const prompt = `grinning face, noto ${Date.now() % 100000}`;
  await create.create(prompt, { n: 1, seed: 11 });
  await expect(create.results).toHaveCount(1, { timeout: 60_000 });

  const gallery = new GalleryPage(page);
  await gallery.goto();
  await expect(gallery.items.first()).toContainText(prompt);
  await gallery.searchFor(prompt.split(" ").at(-1)!);
  await expect(gallery.items).toHaveCount(1);
  await expect(gallery.count).toContainText("1 generation");
  await gallery.searchFor("no prompt says this");
  await expect(page.getByTestId("gallery-empty")).toBeVisible();

  await gallery.goto();
  await gallery.items.first().click();
  await expect(gallery.detailPrompt).toHaveText(prompt);
  await expect(gallery.detailImages).toHaveCount(1);
  await expect(gallery.param("Seed")).toHaveText("11");
  await expect(gallery.param("n")).toHaveText("1");
  await expect(gallery.param("guidance")).toHaveText(modelGuidance());
  await page.getByTestId("remix").click();
  await expect(create.prompt).toHaveValue(prompt);
});

test("an unknown generation is a 404 page", async ({ page }) => {
  const res = await page.goto("/gallery/does-not-exist");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
});
