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

test("login sends an admin to same-origin paths only", async ({ page }) => {
  for (const next of ["//evil.example/phish", "/\\evil.example", "https://evil.example/"]) {
    await page.context().clearCookies();
    await page.goto(`/admin?next=${encodeURIComponent(next)}`);
    await page.getByTestId("admin-token").fill(TOKEN);
    await page.getByTestId("admin-login").click();
    await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/models$/);
  }
});

test("the session cookie is not the token, and logging out revokes it", async ({ page, request }) => {
  await page.context().clearCookies();
  await page.goto("/admin");
  await page.getByTestId("admin-token").fill(TOKEN);
  await page.getByTestId("admin-login").click();
  await expect(page).toHaveURL(/\/models$/);
  const session = (await page.context().cookies()).find((c) => c.name === "tessera_admin");
  expect(session?.value).toBeTruthy();
  expect(session?.value).not.toContain(TOKEN);
  expect(session?.httpOnly).toBe(true);
  const cookie = `tessera_admin=${session!.value}`;
  const created = await request.post("/api/generations", { data: { prompt: "cat face, noto", n: 1 } });
  const { id } = await created.json();
  await page.goto("/admin");
  await expect(page.getByTestId("admin-signed-in")).toBeVisible();
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/$/);
  // The old cookie, replayed, is no longer a session.
  expect((await request.delete(`/api/generations/${id}`, { headers: { Cookie: cookie } })).status()).toBe(401);
  const replay = await request.get("/admin", { headers: { Cookie: cookie } });
  expect(await replay.text()).not.toContain("admin-signed-in");
});
