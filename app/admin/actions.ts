"use server";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { ADMIN_COOKIE, isAdmin, logIn, logOut, safeNextPath } from "@/lib/admin";
import { clientIdFrom, requestIsHttps } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { deleteGeneration as deleteGenerationRow } from "@/lib/db/generations";
import { activateModelVersion } from "@/lib/db/versions";

async function requireAdmin(): Promise<void> {
  if (!(await isAdmin(await headers()))) redirect("/admin?error=login");
}

export async function login(formData: FormData): Promise<void> {
  const token = String(formData.get("token") ?? "");
  const next = safeNextPath(formData.get("next"));
  const h = await headers();
  const result = await logIn(token, clientIdFrom(h));
  if (!result.ok) {
    const retry = result.reason === "throttled" ? `&retry=${result.retryAfterS}` : "";
    redirect(`/admin?error=${result.reason}${retry}&next=${encodeURIComponent(next)}`);
  }
  (await cookies()).set(ADMIN_COOKIE, result.secret, { httpOnly: true, sameSite: "lax", path: "/", expires: result.expires, secure: requestIsHttps(h) });
  redirect(next);
}

export async function logout(): Promise<void> {
  await logOut(await headers());
  (await cookies()).delete(ADMIN_COOKIE);
  redirect("/");
}

export async function deleteGeneration(formData: FormData): Promise<void> {
  await requireAdmin();
  await deleteGenerationRow(getDb(), String(formData.get("id") ?? ""));
  redirect("/gallery");
}

export async function activateVersion(formData: FormData): Promise<void> {
  await requireAdmin();
  // One active version at a time; the registry loads it on the next request and swaps atomically.
  if (!(await activateModelVersion(getDb(), String(formData.get("id") ?? "")))) redirect("/models?error=unknown");
  redirect("/models");
}
