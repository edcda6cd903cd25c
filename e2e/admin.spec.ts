import { expect, test } from "@playwright/test";
import { CreatePage } from "./pages/create-page";

// playwright.config.ts gives the e2e server this token.
const TOKEN = process.env.E2E_ADMIN_TOKEN ?? "e2e-admin-token";

test("deleting needs admin: refused without the token, done after logging in", async ({ page, request }) => {
  const create = new CreatePage(page);
  await create.goto();
  await create.create("red heart, twemoji", { n: 1, seed: 3 });
  await expect(create.results).toHaveCount(1, { timeout: 60_000 });
  await page.getByTestId("open-in-gallery").click();
  const id = page.url().split("/").at(-1)!;

  // Not an admin: no delete button, and the API refuses.
  await expect(page.getByTestId("delete")).toHaveCount(0);
  expect((await request.delete(`/api/generations/${id}`)).status()).toBe(401);
  expect((await request.delete(`/api/generations/${id}`, { headers: { Authorization: "Bearer wrong" } })).status()).toBe(401);

  await page.getByTestId("delete-needs-admin").click();
  await page.getByTestId("admin-token").fill("wrong");
  await page.getByTestId("admin-login").click();
  await expect(page.getByTestId("admin-error")).toContainText("not the admin token");
  await page.getByTestId("admin-token").fill(TOKEN);
  await page.getByTestId("admin-login").click();
  await expect(page).toHaveURL(new RegExp(`/gallery/${id}$`));
  await page.getByTestId("delete").click();
  await expect(page).toHaveURL(/\/gallery$/);
  expect((await request.get(`/api/generations/${id}`)).status()).toBe(404);
});

test("the models page lists the active model; the about page credits the emoji sets", async ({ page }) => {
  await page.goto("/models");
  await expect(page.getByTestId("model-version").first()).toBeVisible();
  await expect(page.getByTestId("model-active")).toHaveCount(1);
  await page.goto("/about");
  await expect(page.getByTestId("licences")).toContainText("CC-BY-SA-4.0");
});

test("the API deletes with a bearer token", async ({ request }) => {
  const created = await request.post("/api/generations", { data: { prompt: "cat face, noto", n: 1 } });
  expect(created.status()).toBe(202);
  const { id } = await created.json();
  const res = await request.delete(`/api/generations/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(res.status()).toBe(204);
});
