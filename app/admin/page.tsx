import type { Metadata } from "next";
import { headers } from "next/headers";
import { isAdmin, safeNextPath } from "@/lib/admin";
import { login, logout } from "./actions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Admin" };

const ERRORS: Record<string, string> = {
  token: "That token is not the admin token.",
  login: "That needs the admin token: log in first.",
  throttled: "Too many wrong tokens from here: wait before trying again.",
  form: "That request was not a form this site sent.",
};

export default async function AdminPage({ searchParams }: { searchParams: Promise<Record<string, string | undefined>> }) {
  const { error, next, retry } = await searchParams;
  const signedIn = await isAdmin(await headers());
  const retryS = Number(retry);
  return (
    <div className="max-w-md space-y-4">
      <h1 className="text-2xl font-bold">Admin</h1>
      {error && ERRORS[error] && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-800" data-testid="admin-error">
          {ERRORS[error]}
          {error === "throttled" && Number.isInteger(retryS) && retryS > 0 ? ` (about ${retryS} s)` : ""}
        </p>
      )}
      {signedIn ? (
        <form action={logout} className="space-y-2">
          <p data-testid="admin-signed-in">You are signed in as admin.</p>
          <button className="rounded bg-neutral-700 px-4 py-2 text-white">Log out</button>
        </form>
      ) : (
        <form action={login} className="space-y-3">
          <p className="text-sm text-neutral-600">
            The token is in ADMIN_TOKEN, or in data/admin-token (printed by the server at its first start).
          </p>
          <input type="hidden" name="next" value={safeNextPath(next)} />
          <input
            name="token"
            type="password"
            required
            autoComplete="current-password"
            placeholder="Admin token"
            className="w-full rounded border border-neutral-300 px-3 py-2"
            data-testid="admin-token"
          />
          <button className="rounded bg-tile-700 px-4 py-2 text-white" data-testid="admin-login">
            Log in
          </button>
        </form>
      )}
    </div>
  );
}
