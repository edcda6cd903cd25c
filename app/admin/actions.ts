"use server";

import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { ADMIN_COOKIE, isAdminToken } from "@/lib/admin";
import { getDb } from "@/lib/db/client";

async function requireAdmin(): Promise<void> {
  if (!isAdminToken((await cookies()).get(ADMIN_COOKIE)?.value)) redirect("/admin?error=login");
}

export async function login(formData: FormData): Promise<void> {
  const token = String(formData.get("token") ?? "");
  const next = String(formData.get("next") ?? "/models");
  if (!isAdminToken(token)) redirect(`/admin?error=token&next=${encodeURIComponent(next)}`);
  (await cookies()).set(ADMIN_COOKIE, token, { httpOnly: true, sameSite: "lax", path: "/", maxAge: 60 * 60 * 24 * 30 });
  redirect(next.startsWith("/") ? next : "/models");
}

export async function logout(): Promise<void> {
  (await cookies()).delete(ADMIN_COOKIE);
  redirect("/");
}

export async function deleteGeneration(formData: FormData): Promise<void> {
  await requireAdmin();
  const id = String(formData.get("id") ?? "");
  await getDb().generation.deleteMany({ where: { id } });
  redirect("/gallery");
}

export async function activateVersion(formData: FormData): Promise<void> {
  await requireAdmin();
  const id = String(formData.get("id") ?? "");
  const db = getDb();
  const version = await db.modelVersion.findUnique({ where: { id } });
  if (!version) redirect("/models?error=unknown");
  // One active version at a time; the registry loads it on the next request and swaps atomically.
  await db.$transaction([db.modelVersion.updateMany({ data: { active: false } }), db.modelVersion.update({ where: { id }, data: { active: true } })]);
  redirect("/models");
}
