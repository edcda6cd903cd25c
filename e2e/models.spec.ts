// Two models served side by side (issue 17): the shipped shapes model, registered beside models/default at start
// (TESSERA_EXTRA_MODEL_DIRS), picked on the Create page, generating from one of its own example prompts, and found
// in the gallery under its name. Skipped until models/shapes is shipped.
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";
import { GalleryPage } from "./pages/gallery-page";

const SHAPES = "models/shapes";
test.skip(!fs.existsSync(path.join(SHAPES, "manifest.json")), "models/shapes is not shipped");

/** What the shapes manifest says the form should switch to: its sampling defaults and example prompts, if any. */
function shapesManifest(): { guidance: number; examples: string[] | null } {
  const extra = JSON.parse(fs.readFileSync(path.join(SHAPES, "manifest.json"), "utf8")).extra ?? {};
  const examples = Array.isArray(extra.examples) ? extra.examples.filter((e: unknown) => typeof e === "string" && e.trim()) : [];
  return { guidance: extra.sampling?.guidance ?? 1.5, examples: examples.length ? examples : null };
}

test("pick the shapes model, generate one of its examples, and find it in the gallery filtered by that model", async ({ page }) => {
  const manifest = shapesManifest();
  const create = new CreatePage(page);
  await create.goto();
  await create.pickModel("shapes");
  expect(await create.pickedModel()).toBe("shapes");
  // The form switched to the shapes model's own example prompts (its manifest's, when it lists some).
  const example = create.examples.first();
  if (manifest.examples) await expect(example).toHaveText(manifest.examples[0]);
  await example.click();
  const prompt = (await example.textContent()) ?? "";
  await expect(create.prompt).toHaveValue(prompt);
  // ...and to its sampling defaults.
  await create.advancedToggle.click();
  await expect(create.option("guidance")).toHaveValue(String(manifest.guidance));
  await create.option("n").fill("1");
  await create.option("seed").fill("17");
  await create.generate.click();
  await expect(create.results).toHaveCount(1, { timeout: 60_000 });
  const id = await create.generationId();

  const gallery = new GalleryPage(page);
  await gallery.goto();
  await gallery.filterByModel("shapes");
  await expect(page).toHaveURL(/[?&]model=/);
  const card = gallery.item(id);
  await expect(card).toBeVisible();
  await expect(card).toContainText(prompt);
  await expect(card.getByTestId("card-model")).toHaveText("shapes");
  // Filtered: every card is the shapes model's.
  for (const name of await gallery.cardModels.allTextContents()) expect(name).toBe("shapes");
  await card.click();
  await expect(gallery.param("Model")).toHaveText("shapes");
});

test("?model=shapes preselects the shapes model", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto({ model: "shapes" });
  expect(await create.pickedModel()).toBe("shapes");
});
