import type { Metadata } from "next";
import Link from "next/link";
import { headers } from "next/headers";
import { notFound } from "next/navigation";
import { deleteGeneration } from "@/app/admin/actions";
import { isAdmin } from "@/lib/admin";
import { getDb } from "@/lib/db/client";
import { getGeneration } from "@/lib/db/generations";
import { isRecordId } from "@/lib/ids";

export const dynamic = "force-dynamic";

// An id that cannot be a record is "not found" without a query (see lib/ids.ts).
const find = async (id: string) => (isRecordId(id) ? getGeneration(getDb(), id) : null);

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const g = await find((await params).id);
  return { title: g ? g.prompt : "Not found" };
}

export default async function GenerationPage({ params }: { params: Promise<{ id: string }> }) {
  const g = await find((await params).id);
  if (!g) notFound();
  const admin = await isAdmin(await headers());
  const rows: [string, string][] = [
    ["Status", g.status + (g.error ? ` (${g.error})` : "")],
    ...(g.note ? ([["Note", g.note]] as [string, string][]) : []),
    ["Seed", String(g.seed)],
    ["Model", g.modelVersion?.name ?? "—"],
    ["Created", g.createdAt.toISOString().replace("T", " ").slice(0, 19) + " UTC"],
    ...Object.entries((g.params ?? {}) as Record<string, unknown>)
      .filter(([k]) => k !== "seed")
      .map(([k, v]) => [k, String(v)] as [string, string]),
    ...Object.entries((g.timings ?? {}) as Record<string, number>).map(
      ([k, v]) => [k.replace(/Ms$/, " (ms)"), String(v)] as [string, string],
    ),
  ];
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-bold break-words" data-testid="detail-prompt">
        {g.prompt}
      </h1>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {g.images.map((img) => (
          <a key={img.id} href={`/api/images/${img.id}`} download={`tessera-${g.id}-${img.index + 1}.png`}>
            <img
              src={`/api/images/${img.id}`}
              alt={`${g.prompt} (${img.index + 1})`}
              width={128}
              height={128}
              className="w-full rounded border border-neutral-200 bg-white [image-rendering:pixelated]"
              data-testid="detail-image"
            />
          </a>
        ))}
      </div>
      <dl className="grid grid-cols-[10rem_1fr] gap-x-4 gap-y-1 text-sm" data-testid="detail-params">
        {rows.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-neutral-500">{k}</dt>
            <dd data-testid={`param-${k}`}>{v}</dd>
          </div>
        ))}
      </dl>
      <div className="flex flex-wrap items-center gap-3">
        <Link
          href={`/?prompt=${encodeURIComponent(g.prompt)}`}
          className="inline-block rounded bg-tile-700 px-4 py-2 text-white"
          data-testid="remix"
        >
          Remix this prompt
        </Link>
        {admin ? (
          <form action={deleteGeneration}>
            <input type="hidden" name="id" value={g.id} />
            <button className="rounded border border-red-400 px-4 py-2 text-red-700 hover:bg-red-50" data-testid="delete">
              Delete
            </button>
          </form>
        ) : (
          <Link
            href={`/admin?next=${encodeURIComponent(`/gallery/${g.id}`)}`}
            className="text-sm text-neutral-500 underline"
            data-testid="delete-needs-admin"
          >
            Log in as admin to delete
          </Link>
        )}
      </div>
    </div>
  );
}
