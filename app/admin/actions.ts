"use server";

import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { ADMIN_COOKIE, adminCheck, logIn, logOut, safeNextPath } from "@/lib/admin";
import { clientIdFrom, requestIsHttps } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { deleteGeneration as deleteGenerationRow } from "@/lib/db/generations";
import { activateModelVersion } from "@/lib/db/versions";
import { isRecordId } from "@/lib/ids";

// Actions are public endpoints: anyone can post any arguments to them. A call that is not a form post goes back
// to the admin page (a redirect, since an action cannot answer 400) instead of failing with a 500.
function form(arg: unknown): FormData {
  if (!(arg instanceof FormData)) redirect("/admin?error=form");
  return arg;
}
const field = (data: FormData, name: string) => {
  const v = data.get(name);
  return typeof v === "string" ? v : "";
};

async function requireAdmin(): Promise<void> {
  const admin = await adminCheck(await headers());
  if (!admin.ok) redirect(admin.reason === "throttled" ? `/admin?error=throttled&retry=${admin.retryAfterS}` : "/admin?error=login");
}

export async function login(formData: FormData): Promise<void> {
  const data = form(formData);
  const token = field(data, "token");
  const next = safeNextPath(field(data, "next"));
  const h = await headers();
  const result = await logIn(token, clientIdFrom(h));
  if (!result.ok) {
    const retry = result.reason === "throttled" ? `&retry=${result.retryAfterS}` : "";
    redirect(`/admin?error=${result.reason}${retry}&next=${encodeURIComponent(next)}`);
  }
  (await cookies()).set(ADMIN_COOKIE, result.secret, {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    expires: result.expires,
    secure: requestIsHttps(h),
  });
  redirect(next);
}

export async function logout(): Promise<void> {
  await logOut(await headers());
  (await cookies()).delete(ADMIN_COOKIE);
  redirect("/");
}

export async function deleteGeneration(formData: FormData): Promise<void> {
  const data = form(formData);
  await requireAdmin();
  const id = field(data, "id");
  if (isRecordId(id)) await deleteGenerationRow(getDb(), id);
  redirect("/gallery");
}

export async function activateVersion(formData: FormData): Promise<void> {
  const data = form(formData);
  await requireAdmin();
  const id = field(data, "id");
  // One active version at a time; the registry loads it on the next request and swaps atomically.
  if (!isRecordId(id) || !(await activateModelVersion(getDb(), id))) redirect("/models?error=unknown");
  redirect("/models");
}
