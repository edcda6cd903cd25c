// Admin sessions, the login throttle and the redirect after login, against a real SQLite database.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_COOKIE, adminCheck, isAdmin, logIn, logOut, safeNextPath } from "./admin";
import { CLIENT_HEADER, clientIdForAddress } from "./client-id";
import { createDb, type Db } from "./db/client";
import { migrate } from "./db/migrate";
import { LoginThrottle } from "./login-throttle";

let dir: string;
let db: Db;
const TOKEN = "test-admin-token";
const cookie = (secret: string) => new Headers({ cookie: `other=1; ${ADMIN_COOKIE}=${secret}` });
/** A request from `address` (its id as the server entry stamps it) with `Authorization: Bearer <token>`. */
const bearer = (token: string, address: string, extra: Record<string, string> = {}) =>
  new Headers({ authorization: `Bearer ${token}`, [CLIENT_HEADER]: clientIdForAddress(address), ...extra });
const fastThrottle = () => new LoginThrottle({ attempts: 3, windowS: 60, blockS: 1, maxBlockS: 60, memoryS: 600 });

beforeAll(async () => {
  process.env.ADMIN_TOKEN = TOKEN;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-admin-"));
  const url = `file:${path.join(dir, "a.db")}`;
  await migrate(url);
  db = createDb(url);
});
afterAll(async () => {
  await db?.$disconnect();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("admin sessions", () => {
  it("a login opens a session that is not the token, and logging out revokes it for good", async () => {
    const result = await logIn(TOKEN, "c1", db, fastThrottle());
    if (!result.ok) throw new Error(`login failed: ${result.reason}`);
    expect(result.secret).not.toContain(TOKEN);
    expect(result.expires.getTime()).toBeGreaterThan(Date.now() + 24 * 3600_000);
    expect(await isAdmin(cookie(result.secret), db)).toBe(true);
    // The database holds a hash of the secret, never the secret.
    expect(await db.adminSession.count({ where: { id: result.secret } })).toBe(0);
    await logOut(cookie(result.secret), db);
    // The same cookie, replayed after logout, is worthless.
    expect(await isAdmin(cookie(result.secret), db)).toBe(false);
  });

  it("the token itself in the cookie, an expired session and malformed cookies are not admin, and never throw", async () => {
    expect(await isAdmin(cookie(TOKEN), db)).toBe(false);
    const result = await logIn(TOKEN, "c2", db, fastThrottle());
    if (!result.ok) throw new Error("login failed");
    await db.adminSession.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await isAdmin(cookie(result.secret), db)).toBe(false);
    for (const bad of ["%ZZ", "%", "%E0%A4%A", "%FF", "%ED%A0%80", "", "=", '"quoted"']) expect(await isAdmin(cookie(bad), db)).toBe(false);
    expect(await isAdmin(new Headers({ cookie: `${ADMIN_COOKIE}` }), db)).toBe(false);
  });

  it("the bearer token is admin on the API; a wrong one is not", async () => {
    expect(await isAdmin(new Headers({ authorization: `Bearer ${TOKEN}` }), db)).toBe(true);
    expect(await isAdmin(new Headers({ authorization: "Bearer wrong" }), db)).toBe(false);
  });
});

describe("login throttle", () => {
  it("locks a client out after a few wrong tokens, even for the right one, with a doubling lock-out; others are unaffected", async () => {
    const throttle = fastThrottle();
    expect(await logIn("wrong", "guesser", db, throttle)).toEqual({ ok: false, reason: "token" });
    expect(await logIn("wrong", "guesser", db, throttle)).toEqual({ ok: false, reason: "token" });
    expect(await logIn("wrong", "guesser", db, throttle)).toEqual({ ok: false, reason: "throttled", retryAfterS: 1 });
    expect(await logIn(TOKEN, "guesser", db, throttle)).toMatchObject({ ok: false, reason: "throttled" });
    expect((await logIn(TOKEN, "someone else", db, throttle)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    // After the lock-out a fresh allowance, and the next lock-out is twice as long.
    for (let i = 0; i < 2; i++) expect(await logIn("wrong", "guesser", db, throttle)).toEqual({ ok: false, reason: "token" });
    expect(await logIn("wrong", "guesser", db, throttle)).toEqual({ ok: false, reason: "throttled", retryAfterS: 2 });
    // At ~276 guesses per second unthrottled, a burst now gets nowhere.
    const burst = await Promise.all(Array.from({ length: 50 }, () => logIn("guess", "guesser", db, throttle)));
    expect(burst.every((r) => !r.ok && r.reason === "throttled")).toBe(true);
  });
});

describe("one throttle for every way of presenting the token", () => {
  it("Bearer guesses lock a client out after the login's count, the right token too, until the lock-out passes", async () => {
    const throttle = fastThrottle();
    const check = (token: string, address = "10.0.0.7") => adminCheck(bearer(token, address), db, throttle);
    expect(await check("wrong")).toEqual({ ok: false, reason: "token" });
    expect(await check("wrong")).toEqual({ ok: false, reason: "token" });
    expect(await check("wrong")).toEqual({ ok: false, reason: "throttled", retryAfterS: 1 });
    expect(await check(TOKEN)).toMatchObject({ ok: false, reason: "throttled" });
    expect(await isAdmin(bearer(TOKEN, "10.0.0.7"), db, throttle)).toBe(false);
    // The login is the same door: locked too, for the same client only.
    expect(await logIn(TOKEN, clientIdForAddress("10.0.0.7"), db, throttle)).toMatchObject({ ok: false, reason: "throttled" });
    expect(await check(TOKEN, "10.0.0.8")).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await check(TOKEN)).toEqual({ ok: true });
  });

  it("wrong logins and wrong Bearer tokens count together", async () => {
    const throttle = fastThrottle();
    const client = clientIdForAddress("10.0.0.9");
    expect(await logIn("wrong", client, db, throttle)).toEqual({ ok: false, reason: "token" });
    expect(await adminCheck(bearer("wrong", "10.0.0.9"), db, throttle)).toEqual({ ok: false, reason: "token" });
    expect(await logIn("wrong", client, db, throttle)).toEqual({ ok: false, reason: "throttled", retryAfterS: 1 });
    expect(await adminCheck(bearer(TOKEN, "10.0.0.9"), db, throttle)).toMatchObject({ ok: false, reason: "throttled" });
  });

  it("a burst of concurrent guesses gets the allowance and no more, even with the right token inside it", async () => {
    const throttle = fastThrottle();
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 20 ? TOKEN : `guess-${i}`));
    const viaBearer = await Promise.all(guesses.map((g) => adminCheck(bearer(g, "10.0.1.1"), db, throttle)));
    expect(viaBearer.filter((r) => !r.ok && r.reason === "token")).toHaveLength(2);
    expect(viaBearer.filter((r) => !r.ok && r.reason === "throttled")).toHaveLength(38);
    const viaLogin = await Promise.all(guesses.map((g) => logIn(g, "burst-login", db, throttle)));
    expect(viaLogin.some((r) => r.ok)).toBe(false);
    expect(viaLogin.filter((r) => !r.ok && r.reason === "token")).toHaveLength(2);
  });

  it("a locked-out client with an open session is still admin (the lock-out stops guesses, not sessions)", async () => {
    const throttle = fastThrottle();
    const result = await logIn(TOKEN, clientIdForAddress("10.0.2.2"), db, throttle);
    if (!result.ok) throw new Error("login failed");
    const withSession = (token: string) => bearer(token, "10.0.2.2", { cookie: `${ADMIN_COOKIE}=${result.secret}` });
    for (let i = 0; i < 3; i++) await adminCheck(withSession("wrong"), db, throttle);
    expect(await adminCheck(bearer(TOKEN, "10.0.2.2"), db, throttle)).toMatchObject({ ok: false, reason: "throttled" });
    expect(await adminCheck(withSession("wrong"), db, throttle)).toEqual({ ok: true });
  });
});

describe("redirect after login", () => {
  it("accepts same-origin paths only", () => {
    for (const ok of ["/models", "/gallery/abc?x=1#top", "/admin?next=%2F%2Fevil"]) expect(safeNextPath(ok)).toBe(ok);
    for (const evil of [
      "//evil.example/phish",
      "/\\evil.example",
      "\\\\evil.example",
      "https://evil.example/",
      "http:/evil",
      "javascript:alert(1)",
      "/\t/evil.example",
      "",
      "models",
      undefined,
      null,
      42,
    ]) {
      expect(safeNextPath(evil)).toBe("/models");
    }
    // Whatever is accepted stays on the site when a browser resolves it.
    for (const p of ["/models", "/./models", "/..//evil.example"])
      expect(new URL(safeNextPath(p), "https://tessera.test").host).toBe("tessera.test");
  });
});
