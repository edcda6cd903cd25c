// Starting from a picture (image priming) through the real app and the shipped model: upload a PNG on the Create
// page, keep its top rows, see them first while the transformer writes the rest, then the finished picture in the
// gallery with the source it started from.
import sharp from "sharp";
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";
import { GalleryPage } from "./pages/gallery-page";

/** A 48×48 PNG: a red top half over a blue bottom half (fitted to 32×32 by the server). */
const picture = async () =>
  sharp({ create: { width: 48, height: 48, channels: 3, background: { r: 40, g: 60, b: 220 } } })
    .composite([{ input: { create: { width: 48, height: 24, channels: 3, background: { r: 230, g: 30, b: 30 } } }, top: 0, left: 0 }])
    .png()
    .toBuffer();

test("uploading a PNG on the Create page shows the kept rows first, then the finished picture in the gallery", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.startFrom({ name: "start.png", mimeType: "image/png", buffer: await picture() }, 3);
  await expect(create.initPreview).toBeVisible();
  await expect(page.getByTestId("init-keep-rows-value")).toHaveText("3");
  await create.create("red heart, twemoji", { n: 2, seed: 11 });
  // The kept rows show as soon as the job is queued, before any partial picture.
  await expect(create.keptRows).toBeVisible();
  await expect(create.results).toHaveCount(2, { timeout: 60_000 });
  expect(await create.results.first().evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(32);

  const id = await create.generationId();
  const gallery = new GalleryPage(page);
  await page.goto(`/gallery/${id}`);
  await expect(gallery.detailImages).toHaveCount(2);
  await expect(gallery.detailSourceRows).toHaveText("rows 1–3 of 8 kept, the rest sampled");
  const source = gallery.detailSource.locator("img");
  await expect(source).toHaveAttribute("src", `/api/generations/${id}/source`);
  expect(await source.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(32);
});

test("a file that is not a PNG, JPEG or WebP is refused before it is sent", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await page.waitForLoadState("networkidle");
  await create.initFile.setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await expect(page.getByTestId("init-error")).toHaveText("notes.txt is not a PNG, JPEG or WebP image");
  await expect(create.initPreview).toHaveCount(0);
});
