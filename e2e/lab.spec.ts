// The lab (issue 19) in the browser, on the served model folder: /lab shows every lab model (its metrics and sample
// sheet when it is trained), and a generation's page offers the VAE's variations and blends and shows each image's
// bits/dim under the Real-NVP. A lab model the served folder lacks is expected to say so instead.
import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";
import { LabPage } from "./pages/lab-page";

const modelDir = () => process.env.TESSERA_MODEL_DIR ?? "models/default";
const trained = (kind: string) => fs.existsSync(path.join(modelDir(), "lab", kind, "manifest.json"));

test("/lab shows every lab model, with its metrics and samples when trained", async ({ page }) => {
  const lab = new LabPage(page);
  await lab.goto();
  // Each card shows a metric in its own words (the shipped folder trains all five).
  const metricWord: Record<string, string> = { vae: "bits/dim", flow: "bits/dim", dae: "PSNR", aae: "bits/dim", ica: "PSNR" };
  for (const kind of Object.keys(metricWord)) {
    await expect(lab.card(kind)).toBeVisible();
    if (!trained(kind)) {
      await expect(page.getByTestId(`lab-${kind}-untrained`)).toBeVisible();
      continue;
    }
    await expect(lab.metrics(kind)).toContainText(metricWord[kind]);
    if (fs.existsSync(path.join(modelDir(), "lab", kind, "samples.png"))) {
      const loaded = await lab.samples(kind).evaluate((img: HTMLImageElement) => img.decode().then(() => img.naturalWidth));
      expect(loaded).toBeGreaterThan(0);
    }
  }
});

test("/lab shows the AAE-against-VAE sample-quality table when it was measured", async ({ page }) => {
  const lab = new LabPage(page);
  await lab.goto();
  const file = path.join(modelDir(), "lab", "eval-lab.json");
  if (!fs.existsSync(file)) return void (await expect(page.getByTestId("lab-compare-missing")).toBeVisible());
  const measured = JSON.parse(fs.readFileSync(file, "utf8"));
  const rows = Object.keys(measured.rows);
  const table = page.getByTestId("lab-compare-table");
  await expect(table.locator("tbody tr")).toHaveCount(rows.length);
  for (const name of rows) await expect(table).toContainText(name);
  // The variations' keep rate, as measured (eval:lab's variation-family read-back).
  for (const [model, v] of Object.entries(measured.variations ?? {}) as [string, { keepsFamilyPixels: number }][])
    await expect(page.getByTestId("lab-variation-keep")).toContainText(`${model} ${(100 * v.keepsFamilyPixels).toFixed(1)} %`);
});

test("a generation's page offers variations and a blend, and shows bits/dim", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.create(`red heart, twemoji ${Date.now() % 100000}`, { n: 2, seed: 5 });
  await expect(create.results).toHaveCount(2, { timeout: 60_000 });
  await page.goto(`/gallery/${await create.generationId()}`);
  const lab = new LabPage(page);
  if (trained("flow")) await expect(lab.bitsPerDim).toHaveCount(2);
  else await expect(lab.bitsPerDim).toHaveCount(0);
  if (!trained("vae")) return void (await expect(page.getByTestId("vae-off")).toBeVisible());
  await lab.variationsButton.click();
  await expect(lab.variations.first()).toBeVisible({ timeout: 30_000 });
  expect(await lab.variations.count()).toBeGreaterThan(1);
  await lab.blendButton.click();
  await expect(lab.blendFrames.first()).toBeVisible({ timeout: 30_000 });
  expect(await lab.blendFrames.count()).toBeGreaterThan(2);
});
