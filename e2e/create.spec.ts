// The shipped model (models/default) driven through the real app: no mock anywhere.
import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";

test("typing a prompt shows progress, then the generated images", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.create("red heart, twemoji", { n: 2, seed: 7 });
  await expect(create.results).toHaveCount(2, { timeout: 60_000 });
  // Progress arrived token by token over Server-Sent Events before the final images.
  await expect(page.getByTestId("result-info")).toContainText("64 tokens streamed");
  const first = create.results.first();
  await expect(first).toHaveAttribute("src", /^\/api\/images\//);
  // The PNG really loaded: a decoded 32×32 image.
  expect(await first.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(32);
});

test("an empty or too long prompt gets a clear error", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.create("   ");
  await expect(create.error).toHaveText("the prompt is empty");
  // The box holds the API's limit (one schema for both), so a longer paste is cut to it.
  await create.prompt.fill("a".repeat(250));
  await expect(create.prompt).toHaveValue("a".repeat(200));
  await expect(page.getByTestId("prompt-length")).toHaveText("200/200");
  // Zero-width characters only: nothing visible to draw.
  await create.create("\u200b\u200b");
  await expect(create.error).toHaveText("the prompt has no visible character");
});

test("an example prompt fills the prompt box", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  const example = create.examples.first();
  await example.click();
  await expect(create.prompt).toHaveValue((await example.textContent()) ?? "");
});

test("the prompt box counts tokens and warns about words the model never saw", async ({ page }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.prompt.fill("red heart, twemoji");
  await expect(page.getByTestId("token-count")).toContainText(/^\d+\/\d+ tokens$/);
  await expect(page.getByTestId("unknown-words")).toHaveCount(0);
  await create.prompt.fill("red heart, zyzzyva");
  await expect(page.getByTestId("unknown-words")).toContainText("zyzzyva");
});
