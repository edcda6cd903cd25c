// Admin authentication. One shared token: ADMIN_TOKEN if set; otherwise a random token generated at first start,
// stored in data/admin-token (so it survives restarts) and printed once. Logging in with it opens a session: the
// cookie holds a random secret (never the token), the database its SHA-256 with an expiry, and logging out deletes
// it. API clients may send `Authorization: Bearer <token>` instead. `isAdmin` is the one check every page, action
// and route uses. Wrong tokens are throttled per client with a growing lock-out (lib/login-throttle.ts).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { getDb, type Db } from "./db/client";
import { adminSessionIsLive, createAdminSession, deleteAdminSession, deleteExpiredAdminSessions } from "./db/sessions";
import { loginThrottle, type LoginThrottle } from "./login-throttle";

export const ADMIN_COOKIE = "tessera_admin";
/** A session lasts a week; logging in again opens a new one. */
export const SESSION_MS = 7 * 24 * 60 * 60 * 1000;

let cached: string | undefined;

export function adminToken(root = process.cwd()): string {
  if (cached) return cached;
  const fromEnv = process.env.ADMIN_TOKEN?.trim();
  if (fromEnv) return (cached = fromEnv);
  const file = path.join(root, "data", "admin-token");
  if (fs.existsSync(file)) return (cached = fs.readFileSync(file, "utf8").trim());
  const token = randomBytes(18).toString("base64url");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, token + "\n", { mode: 0o600 });
  console.info(`[tessera] generated an admin token (saved in data/admin-token; set ADMIN_TOKEN to choose your own): ${token}`);
  return (cached = token);
}

function isAdminToken(candidate: string | undefined | null): boolean {
  if (!candidate) return false;
  // Compare digests: equal lengths for timingSafeEqual, and the token's length does not leak.
  const a = createHash("sha256").update(candidate).digest();
  const b = createHash("sha256").update(adminToken()).digest();
  return timingSafeEqual(a, b);
}

const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("hex");

/** A cookie's value from a Cookie header; never throws (a malformed escape is just not a session). */
export function readCookie(header: string | null, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  return null;
}

/** The one admin check: a Bearer token, or the cookie of a session that is still open. */
export async function isAdmin(headers: Headers, db: Db = getDb()): Promise<boolean> {
  const auth = headers.get("authorization");
  if (auth?.startsWith("Bearer ") && isAdminToken(auth.slice(7).trim())) return true;
  const secret = readCookie(headers.get("cookie"), ADMIN_COOKIE);
  if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return false;
  return adminSessionIsLive(db, hashSecret(secret));
}

export type LoginResult =
  { ok: true; secret: string; expires: Date } | { ok: false; reason: "token" } | { ok: false; reason: "throttled"; retryAfterS: number };

/** Checks a login attempt (throttled per client) and opens a session for the right token. */
export async function logIn(
  token: string,
  clientId: string,
  db: Db = getDb(),
  throttle: LoginThrottle = loginThrottle(),
): Promise<LoginResult> {
  const wait = await throttle.blockedFor(clientId);
  if (wait > 0) return { ok: false, reason: "throttled", retryAfterS: wait };
  if (!isAdminToken(token)) {
    const blocked = await throttle.failed(clientId);
    return blocked > 0 ? { ok: false, reason: "throttled", retryAfterS: blocked } : { ok: false, reason: "token" };
  }
  await throttle.succeeded(clientId);
  const secret = randomBytes(32).toString("base64url");
  const expires = new Date(Date.now() + SESSION_MS);
  await deleteExpiredAdminSessions(db);
  await createAdminSession(db, hashSecret(secret), expires);
  return { ok: true, secret, expires };
}

/** Ends the session named by the request's cookie, if any. */
export async function logOut(headers: Headers, db: Db = getDb()): Promise<void> {
  const secret = readCookie(headers.get("cookie"), ADMIN_COOKIE);
  if (secret) await deleteAdminSession(db, hashSecret(secret));
}

/**
 * Where to go after logging in: a path on this site only. `//evil.example`, `/\evil.example` (browsers treat the
 * backslash as a slash), absolute URLs and control characters all fall back, so the login page cannot be used to
 * send an admin to a look-alike site.
 */
export function safeNextPath(next: unknown, fallback = "/models"): string {
  if (typeof next !== "string" || !next.startsWith("/") || next.length > 2000) return fallback;
  if (/^\/[/\\]/.test(next) || /[\u0000-\u001f\u007f\\]/.test(next)) return fallback;
  try {
    const base = "http://tessera.invalid";
    const url = new URL(next, base);
    if (url.origin !== base) return fallback;
    // Normalising can bring a `//` to the front (`/..//evil.example` → `//evil.example`): check the result again.
    const path = url.pathname + url.search + url.hash;
    return /^\/[/\\]/.test(path) ? fallback : path;
  } catch {
    return fallback;
  }
}
