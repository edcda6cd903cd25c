// "Run on: this browser" (issue 33) with the shipped model in Debian's Chromium: onnxruntime-web samples the codes
// in the page, the server only checks, decodes and stores them. A seed gives the browser the server's codes, seen
// here as byte-identical stored PNGs (the server decodes both runs' codes with the same decoder and encoder).
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";

const PROMPT = "red heart, twemoji";

test("a browser run draws the server's images for the same seed and lands in the gallery", async ({ page }) => {
  test.setTimeout(180_000);
  const create = new CreatePage(page);
  await create.goto();
  // Candidates = n: the server samples exactly the n images the browser does (CLIP only orders them).
  await create.create(PROMPT, { n: 2, seed: 7, candidates: 2 });
  await expect(create.results).toHaveCount(2, { timeout: 60_000 });
  const server = await create.resultHashes();

  await create.goto();
  await expect(create.runOnNote).toContainText(/downloads \d+\.\d MB once/, { timeout: 30_000 });
  await create.runOn("browser");
  await create.create(PROMPT, { n: 2, seed: 7 });
  await expect(create.results).toHaveCount(2, { timeout: 120_000 });
  await expect(page.getByTestId("result-info")).toContainText("64 tokens streamed");
  await expect(create.rerankInfo).toHaveText("made in this browser, not reranked");
  expect(await create.resultHashes()).toEqual(server);

  // In the gallery, as a normal generation marked as made in the browser.
  const id = await create.generationId();
  const job = await (await page.request.get(`/api/generations/${id}`)).json();
  expect(job).toMatchObject({ status: "done", seed: 7, params: { madeIn: "browser", n: 2 } });
  await page.goto(`/gallery/${id}`);
  await expect(page.locator("img").first()).toBeVisible();
  await expect(page.getByTestId("param-Made in")).toContainText("a visitor's browser");
  await page.goto("/gallery");
  await expect(page.getByTestId("card-made-in-browser").first()).toBeVisible();

  // A second visit: every model file comes from this browser's Cache Storage, none over the network.
  const fetched: string[] = [];
  page.on("request", (r) => {
    if (/\/api\/(models\/[^/]+\/browser\/|browser-runtime\/)/.test(r.url())) fetched.push(r.url());
  });
  await create.goto();
  await create.runOn("browser");
  await create.create(PROMPT, { n: 1, seed: 8 });
  await expect(create.results).toHaveCount(1, { timeout: 120_000 });
  await expect(create.runOnNote).toContainText("all from this browser's cache");
  expect(fetched).toEqual([]);
});

test("without WebAssembly the browser option is off, says why, and the server still generates", async ({ page }) => {
  await page.addInitScript(() => {
    // @ts-expect-error: a browser without WebAssembly
    delete globalThis.WebAssembly;
  });
  const create = new CreatePage(page);
  await create.goto();
  await expect(create.runOnNote).toContainText("this browser cannot run it: this browser has no WebAssembly");
  await expect(create.runOnBrowser).toBeDisabled();
  await create.create(PROMPT, { n: 1, seed: 3 });
  await expect(create.results).toHaveCount(1, { timeout: 60_000 });
});
