// Admin authentication. One shared token: ADMIN_TOKEN if set; otherwise a random token generated at first start,
// stored in data/admin-token (so it survives restarts) and printed once. Logging in with it opens a session: the
// cookie holds a random secret (never the token), the database its SHA-256 with an expiry, and logging out deletes
// it. API clients may send `Authorization: Bearer <token>` instead. `adminCheck` (or its yes/no, `isAdmin`) is the one
// check every page, action and route uses. Every presented token, at the login or as a Bearer, goes through one
// per-client throttle with a growing lock-out (lib/login-throttle.ts); an open session's cookie is a random secret,
// not a guessable token, and is not throttled.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { clientIdFrom } from "./client-id";
import { getDb, type Db } from "./db/client";
import { adminSessionIsLive, createAdminSession, deleteAdminSession, deleteExpiredAdminSessions } from "./db/sessions";
import { loginThrottle, type AttemptResult, type LoginThrottle } from "./login-throttle";

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

/** Why a request is (not) admin: "none" when it presented no token and no live session. */
export type AdminCheck = AttemptResult | { ok: false; reason: "none" };

/**
 * The one admin check: a Bearer token (throttled per client like the login: a locked-out client's right token is
 * refused too), or the cookie of a session that is still open.
 */
export async function adminCheck(headers: Headers, db: Db = getDb(), throttle: LoginThrottle = loginThrottle()): Promise<AdminCheck> {
  const auth = headers.get("authorization");
  let bearer: AdminCheck = { ok: false, reason: "none" };
  if (auth?.startsWith("Bearer ")) {
    const token = auth.slice(7).trim();
    bearer = await throttle.attempt(clientIdFrom(headers), () => isAdminToken(token));
    if (bearer.ok) return bearer;
  }
  // A live session was opened with the right token before: the lock-out stops guesses, not a signed-in admin
  // (as with the login, which never ends a session).
  const secret = readCookie(headers.get("cookie"), ADMIN_COOKIE);
  if (secret && /^[A-Za-z0-9_-]{43}$/.test(secret) && (await adminSessionIsLive(db, hashSecret(secret)))) return { ok: true };
  return bearer;
}

/** `adminCheck` as yes or no, for pages that only choose what to show. */
export async function isAdmin(headers: Headers, db: Db = getDb(), throttle: LoginThrottle = loginThrottle()): Promise<boolean> {
  return (await adminCheck(headers, db, throttle)).ok;
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
  const judged = await throttle.attempt(clientId, () => isAdminToken(token));
  if (!judged.ok) return judged;
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
