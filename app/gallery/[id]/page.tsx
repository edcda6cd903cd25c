import type { Metadata } from "next";
import Link from "next/link";
import { KeptRowsPreview, keptRowsLabel } from "@/components/kept-rows";
import { PixelImage } from "@/components/pixel-image";
import { TransformerTools } from "@/components/transformer-tools";
import { VaeTools } from "@/components/vae-tools";
import { headers } from "next/headers";
import { notFound } from "next/navigation";
import { deleteGeneration } from "@/app/admin/actions";
import { isAdmin } from "@/lib/admin";
import { madeInBrowser } from "@/lib/db/browser-generations";
import { getDb } from "@/lib/db/client";
import { galleryItems } from "@/lib/db/gallery";
import { getGeneration } from "@/lib/db/generations";
import { imageGridOfVersion } from "@/lib/generate/models";
import { moreLikeThis } from "@/lib/generate/semantic";
import { isRecordId } from "@/lib/ids";
import { shownText } from "@/lib/text/shown";

export const dynamic = "force-dynamic";

/** Similar generations shown under "More like this". */
const MORE_LIKE_THIS = 8;

// An id that cannot be a record is "not found" without a query (see lib/ids.ts).
const find = async (id: string) => (isRecordId(id) ? getGeneration(getDb(), id) : null);

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const g = await find((await params).id);
  return { title: g ? shownText(g.prompt) : "Not found" };
}

export default async function GenerationPage({ params }: { params: Promise<{ id: string }> }) {
  const g = await find((await params).id);
  if (!g) notFound();
  // Every place the prompt shows (never the Remix link, which hands on the prompt as typed): see lib/text/shown.ts.
  const prompt = shownText(g.prompt);
  const admin = await isAdmin(await headers());
  // "More like this": the generations whose images are closest to this one's best, by CLIP embedding.
  const similar = await moreLikeThis(getDb(), g.id, MORE_LIKE_THIS);
  const similarItems = await galleryItems(
    getDb(),
    similar.map((s) => s.generationId),
  );
  const cover = new Map(similar.map((s) => [s.generationId, s]));
  const rows: [string, string][] = [
    ["Status", g.status + (g.error ? ` (${g.error})` : "")],
    ...(g.note ? ([["Note", g.note]] as [string, string][]) : []),
    ["Seed", String(g.seed)],
    ["Model", g.modelVersion?.name ?? "—"],
    ...(madeInBrowser(g.params)
      ? ([["Made in", "a visitor's browser: the page sampled the codes, this server checked and decoded them"]] as [string, string][])
      : []),
    [
      "Reranking",
      madeInBrowser(g.params)
        ? "off (browser runs are not reranked)"
        : g.candidates
          ? `best ${g.images.length} of ${g.candidates} candidates by CLIP score`
          : g.status === "done"
            ? "off (the model has no CLIP)"
            : "—",
    ],
    ["Created", g.createdAt.toISOString().replace("T", " ").slice(0, 19) + " UTC"],
    ...Object.entries((g.params ?? {}) as Record<string, unknown>)
      .filter(([k]) => k !== "seed" && k !== "madeIn")
      .map(([k, v]) => [k, String(v)] as [string, string]),
    ...Object.entries((g.timings ?? {}) as Record<string, number>).map(
      ([k, v]) => [k.replace(/Ms$/, " (ms)"), String(v)] as [string, string],
    ),
  ];
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-bold break-words" dir="auto" data-testid="detail-prompt">
        {prompt}
      </h1>
      <div className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {g.images.map((img) => (
          <figure key={img.id} className="space-y-1">
            <a href={`/api/images/${img.id}`} download={`tessera-${g.id}-${img.index + 1}.png`}>
              <PixelImage src={`/api/images/${img.id}`} alt={`${prompt} (${img.index + 1})`} testId="detail-image" />
            </a>
            {img.score !== null && <Score value={img.score} testId="detail-score" />}
            {img.bitsPerDim !== null && (
              <p
                className="text-xs text-neutral-500"
                title="Typicality: bits/dim under the model's Real-NVP, lower = more like the training data; flagged above the 99th percentile of held-out emoji"
                data-testid="detail-bits-per-dim"
              >
                {img.bitsPerDim.toFixed(2)} bits/dim
                {img.atypical && (
                  <span className="ml-1 rounded bg-amber-100 px-1 text-amber-800" data-testid="detail-atypical">
                    far off the data
                  </span>
                )}
              </p>
            )}
          </figure>
        ))}
      </div>
      {g.primed && <StartedFrom id={g.id} primed={g.primed} grid={(await imageGridOfVersion(getDb(), g.modelVersion?.id ?? null)) ?? 8} />}
      {g.status === "done" && <TransformerTools generationId={g.id} typedPrompt={g.prompt} model={g.modelVersion} images={g.images} />}
      {g.status === "done" && <VaeTools images={g.images} />}
      <dl className="grid grid-cols-[10rem_1fr] gap-x-4 gap-y-1 text-sm" data-testid="detail-params">
        {rows.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-neutral-500">{k}</dt>
            <dd data-testid={`param-${k}`}>{v}</dd>
          </div>
        ))}
      </dl>
      {g.rejected.length > 0 && (
        <details className="space-y-2" data-testid="detail-rejected">
          <summary className="cursor-pointer text-sm text-neutral-600">
            Rejected candidates ({g.rejected.length}): sampled too, ranked lower by CLIP
          </summary>
          <div className="grid grid-cols-4 gap-2 sm:grid-cols-8">
            {g.rejected.map((img) => (
              <figure key={img.id} className="space-y-1">
                <PixelImage src={`/api/images/${img.id}`} alt={`${prompt} (rejected candidate)`} small lazy dim testId="rejected-image" />
                {img.score !== null && <Score value={img.score} testId="rejected-score" />}
              </figure>
            ))}
          </div>
        </details>
      )}
      {similarItems.length > 0 && (
        <section className="space-y-2" data-testid="more-like-this">
          <h2 className="text-sm font-semibold text-neutral-600">More like this</h2>
          <ul className="grid grid-cols-4 gap-2 sm:grid-cols-8">
            {similarItems.map((s) => (
              <li key={s.id}>
                <Link href={`/gallery/${s.id}`} className="block space-y-1" data-testid="similar-item" title={shownText(s.prompt)}>
                  <PixelImage src={`/api/images/${cover.get(s.id)!.imageId}`} alt={shownText(s.prompt)} small lazy />
                  <span className="line-clamp-1 text-xs text-neutral-600" dir="auto">
                    {shownText(s.prompt)}
                  </span>
                  <span className="block text-xs text-neutral-400" data-testid="card-model">
                    {s.modelVersion?.name ?? "unknown model"}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </section>
      )}
      <div className="flex flex-wrap items-center gap-3">
        <Link
          href={`/?${new URLSearchParams({ prompt: g.prompt, ...(g.modelVersion ? { model: g.modelVersion.name } : {}) })}`}
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

/** An image-primed generation's source: the picture as the model saw it, its kept rows, where it came from. */
function StartedFrom({
  id,
  primed,
  grid,
}: {
  id: string;
  primed: { keepRows: number; from: { generationId: string; index: number } | "upload" };
  /** Rows of codes of the model's images (where the veil goes). */
  grid: number;
}) {
  return (
    <section className="flex flex-wrap items-center gap-4 rounded border border-neutral-200 p-3 text-sm" data-testid="detail-source">
      <KeptRowsPreview src={`/api/generations/${id}/source`} keepRows={primed.keepRows} grid={grid} testId="detail-source-preview" />
      <div className="space-y-1">
        <h2 className="font-semibold text-neutral-600">Started from a picture</h2>
        <p className="text-neutral-600" data-testid="detail-source-rows">
          {keptRowsLabel(primed.keepRows, grid)}
        </p>
        <p className="text-neutral-500">
          {primed.from === "upload" ? (
            "an uploaded picture (shown as the model saw it: on white, fitted)"
          ) : (
            <Link href={`/gallery/${primed.from.generationId}`} className="text-tile-700 underline" data-testid="detail-source-link">
              image {primed.from.index + 1} of another generation
            </Link>
          )}
        </p>
      </div>
    </section>
  );
}

/** A CLIP score (cosine with the prompt, −1…1), as the detail page shows it. */
function Score({ value, testId }: { value: number; testId: string }) {
  return (
    <figcaption className="text-xs text-neutral-500" title="CLIP's cosine similarity with the prompt (−1 to 1)" data-testid={testId}>
      CLIP {value.toFixed(3)}
    </figcaption>
  );
}
