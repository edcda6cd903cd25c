import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";
import { GalleryPage } from "./pages/gallery-page";

const modelDir = () => process.env.TESSERA_MODEL_DIR ?? "models/default";

/** The Create form starts from the served model's measured sampling defaults (its manifest), else guidance 3. */
function modelGuidance(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir(), "manifest.json"), "utf8"));
  return String(manifest.extra?.sampling?.guidance ?? 3);
}

/** Whether the served model folder carries a CLIP (its manifest's `extra.clip`, default clip/), so requests rerank. */
function modelHasClip(): boolean {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir(), "manifest.json"), "utf8"));
  return fs.existsSync(path.join(modelDir(), String(manifest.extra?.clip ?? "clip"), "manifest.json"));
}

test("a new generation appears in the gallery, search finds it, and its page shows the parameters", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  const prompt = `grinning face, noto ${Date.now() % 100000}`;
  const clip = modelHasClip();
  // Without a CLIP the candidates field is disabled (the server would sample n anyway).
  await create.create(prompt, { n: 1, seed: 11, ...(clip ? { candidates: 4 } : {}) });
  await expect(create.results).toHaveCount(1, { timeout: 60_000 });
  await expect(create.rerankInfo).toHaveText(clip ? "best 1 of 4 by CLIP" : "reranking off");

  const gallery = new GalleryPage(page);
  await gallery.goto();
  await expect(gallery.items.first()).toContainText(prompt);
  await gallery.searchFor(prompt.split(" ").at(-1)!);
  await expect(gallery.items).toHaveCount(1);
  await expect(gallery.count).toContainText("1 generation");
  await gallery.searchFor("no prompt says this");
  await expect(page.getByTestId("gallery-empty")).toBeVisible();
  if (clip) {
    // By meaning every generation of the active model is ranked by CLIP similarity: this one is among them.
    await gallery.searchFor("grinning face", { byMeaning: true });
    await expect(gallery.count).toContainText("closest in meaning to “grinning face”");
    await expect(gallery.items.filter({ hasText: prompt })).toHaveCount(1);
    await expect(gallery.similarity.first()).toHaveText(/^similarity -?\d\.\d{3}$/);
  } else {
    await gallery.searchFor("grinning face", { byMeaning: true });
    await expect(page.getByTestId("gallery-meaning-off")).toBeVisible();
  }

  await gallery.goto();
  await gallery.items.first().click();
  await expect(gallery.detailPrompt).toHaveText(prompt);
  await expect(gallery.detailImages).toHaveCount(1);
  await expect(gallery.param("Seed")).toHaveText("11");
  await expect(gallery.param("n")).toHaveText("1");
  await expect(gallery.param("guidance")).toHaveText(modelGuidance());
  if (clip) {
    // The kept image shows its CLIP score; the 3 candidates it beat are stored, behind "rejected candidates".
    await expect(gallery.detailScores).toHaveCount(1);
    await expect(gallery.detailScores.first()).toHaveText(/^CLIP -?\d\.\d{3}$/);
    await expect(gallery.param("Reranking")).toHaveText("best 1 of 4 candidates by CLIP score");
    await expect(gallery.param("candidates")).toHaveText("4");
    await expect(gallery.rejectedImages).toHaveCount(3);
  } else {
    await expect(gallery.param("Reranking")).toHaveText("off (the model has no CLIP)");
    await expect(gallery.param("candidates")).toHaveCount(0);
    await expect(gallery.rejected).toHaveCount(0);
  }
  await page.getByTestId("remix").click();
  await expect(create.prompt).toHaveValue(prompt);
});

test("an unknown generation is a 404 page", async ({ page }) => {
  const res = await page.goto("/gallery/does-not-exist");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("not-found")).toBeVisible();
});
