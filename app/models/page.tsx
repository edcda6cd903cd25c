import type { Metadata } from "next";
import { headers } from "next/headers";
import { activateVersion } from "@/app/admin/actions";
import { isAdmin } from "@/lib/admin";
import { getDb } from "@/lib/db/client";
import { listModelVersions } from "@/lib/db/versions";
import { stripPaths } from "@/lib/errors";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Models" };

function formatMetric(v: unknown): string {
  return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v);
}

export default async function ModelsPage() {
  const versions = await listModelVersions(getDb());
  const admin = await isAdmin(await headers());
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-bold">Models</h1>
      {versions.length === 0 && <p className="text-neutral-600">No model version is registered yet.</p>}
      <ul className="space-y-6">
        {versions.map((v) => (
          <li key={v.id} className="space-y-3 rounded-lg border border-neutral-200 bg-white p-4" data-testid="model-version">
            <div className="flex flex-wrap items-center gap-3">
              <h2 className="text-lg font-semibold" data-testid="model-name">
                {v.name}
              </h2>
              {v.active && <span className="rounded-full bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800" data-testid="model-active">active</span>}
              <span className="text-xs text-neutral-500">
                {v.kind} · {stripPaths(v.path)} · {v._count.generations} generations · {v.createdAt.toISOString().slice(0, 10)}
              </span>
              {!v.active && admin && (
                <form action={activateVersion}>
                  <input type="hidden" name="id" value={v.id} />
                  <button className="rounded bg-tile-700 px-3 py-1 text-sm text-white" data-testid="activate">
                    Activate
                  </button>
                </form>
              )}
            </div>
            <dl className="grid grid-cols-[12rem_1fr] gap-x-4 gap-y-1 text-sm">
              {Object.entries((v.metrics ?? {}) as Record<string, unknown>).map(([k, val]) => (
                <div key={k} className="contents">
                  <dt className="text-neutral-500">{k}</dt>
                  <dd>{formatMetric(val)}</dd>
                </div>
              ))}
            </dl>
            <img src={`/api/models/${v.id}/samples`} alt={`samples of ${v.name}`} className="max-w-full [image-rendering:pixelated]" />
          </li>
        ))}
      </ul>
      {!admin && <p className="text-sm text-neutral-500">Log in on /admin to activate a version.</p>}
    </div>
  );
}
