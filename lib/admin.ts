// Admin authentication: one shared token. ADMIN_TOKEN if set; otherwise a random token is generated at first start,
// stored in data/admin-token (so it survives restarts) and printed once. Admins prove it with an httpOnly cookie
// set by the login form, or an `Authorization: Bearer <token>` header on the API.
import { randomBytes, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const ADMIN_COOKIE = "tessera_admin";

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

export function isAdminToken(candidate: string | undefined | null): boolean {
  if (!candidate) return false;
  const a = Buffer.from(candidate);
  const b = Buffer.from(adminToken());
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Admin if the request carries the token as a Bearer header or in the admin cookie. */
export function requestIsAdmin(request: Request): boolean {
  const auth = request.headers.get("authorization");
  if (auth?.startsWith("Bearer ") && isAdminToken(auth.slice(7).trim())) return true;
  const cookie = request.headers.get("cookie") ?? "";
  const match = cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith(`${ADMIN_COOKIE}=`));
  return isAdminToken(match ? decodeURIComponent(match.slice(ADMIN_COOKIE.length + 1)) : null);
}
