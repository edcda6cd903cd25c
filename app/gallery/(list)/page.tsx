import type { Metadata } from "next";
import Link from "next/link";
import { PixelImage } from "@/components/pixel-image";
import { madeInBrowser } from "@/lib/db/browser-generations";
import { getDb } from "@/lib/db/client";
import { GalleryQuery, listGallery } from "@/lib/gallery";
import { shownText } from "@/lib/text/shown";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Gallery" };

export default async function GalleryPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const raw = await searchParams;
  const query = GalleryQuery.parse({ page: raw.page, q: raw.q, model: raw.model, by: raw.by, sort: raw.sort });
  // `model` comes back as the filtered version's id, also when the address named it (`?model=shapes`).
  const { total, capped, pages, items, models, meaning, model, bitsPerDim } = await listGallery(getDb(), query);
  // The sort applies to the newest-first listing and text search; a search by meaning is ranked by similarity.
  const byTypicality = query.sort !== "new" && !meaning?.on;
  const link = (page: number) =>
    `/gallery?${new URLSearchParams({
      ...(query.q ? { q: query.q } : {}),
      ...(model ? { model } : {}),
      ...(query.by === "meaning" ? { by: "meaning" } : {}),
      ...(query.sort !== "new" ? { sort: query.sort } : {}),
      page: String(page),
    })}`;
  return (
    <div className="space-y-6">
      <h1 className="text-2xl font-bold">Gallery</h1>
      <form className="flex flex-wrap gap-2" action="/gallery" data-testid="gallery-search">
        <input
          name="q"
          defaultValue={query.q}
          placeholder="Search prompts"
          className="min-w-0 flex-1 rounded border border-neutral-300 px-3 py-2"
          data-testid="gallery-q"
        />
        <select name="model" defaultValue={model} className="rounded border border-neutral-300 px-2 py-2" data-testid="gallery-model">
          <option value="">All models</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
        <label className="flex items-center gap-1 text-sm text-neutral-700" title="Rank by CLIP similarity instead of matching the text">
          <input type="checkbox" name="by" value="meaning" defaultChecked={query.by === "meaning"} data-testid="gallery-meaning" />
          by meaning
        </label>
        <select
          name="sort"
          defaultValue={query.sort}
          className="rounded border border-neutral-300 px-2 py-2"
          title="Typicality: bits/dim of the first image under the model's flow (lower = more like the training data)"
          data-testid="gallery-sort"
        >
          <option value="new">Newest first</option>
          <option value="typical">Most typical first</option>
          <option value="atypical">Least typical first</option>
        </select>
        <button className="rounded bg-tile-700 px-4 py-2 text-white" data-testid="gallery-submit">
          Search
        </button>
      </form>
      <p className="text-sm text-neutral-500" data-testid="gallery-count">
        {/* A search counts up to a cap (lib/db/search.ts): beyond it, "1000+". */}
        {total}
        {capped ? "+" : ""} generation{total === 1 && !capped ? "" : "s"}
        {/* The search as typed, isolated (bdi) so right-to-left text in it cannot reorder the sentence around it. */}
        {query.q ? (
          <>
            {meaning?.on ? " closest in meaning to “" : " matching “"}
            <bdi>{shownText(query.q)}</bdi>”
          </>
        ) : (
          ""
        )}
        {byTypicality ? (query.sort === "typical" ? ", most typical first" : ", least typical first") : ""}
      </p>
      {meaning && !meaning.on && (
        <p className="text-sm text-amber-700" data-testid="gallery-meaning-off">
          Search by meaning is unavailable ({meaning.reason}); these are the prompts that contain the text.
        </p>
      )}
      {items.length === 0 ? (
        <p className="text-neutral-600" data-testid="gallery-empty">
          Nothing here yet.{" "}
          <Link href="/" className="text-tile-700 underline">
            Create something
          </Link>
          .
        </p>
      ) : (
        <ul className="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-6">
          {items.map((g) => (
            <li key={g.id}>
              <Link href={`/gallery/${g.id}`} className="block space-y-1" data-testid="gallery-item">
                {g.images[0] && <PixelImage src={`/api/images/${g.images[0].id}`} alt={shownText(g.prompt)} lazy />}
                <span className="line-clamp-2 text-sm text-neutral-800" dir="auto" data-testid="card-prompt">
                  {shownText(g.prompt)}
                </span>
                <span className="block text-xs text-neutral-500" data-testid="card-model">
                  {g.modelVersion?.name ?? "unknown model"}
                  {madeInBrowser(g.params) && (
                    <span className="ml-1 rounded bg-sky-100 px-1 text-sky-800" data-testid="card-made-in-browser">
                      made in a browser
                    </span>
                  )}
                </span>
                {byTypicality && bitsPerDim[g.id] !== undefined && (
                  <span className="block text-xs text-neutral-500" data-testid="gallery-bits-per-dim">
                    {bitsPerDim[g.id].toFixed(2)} bits/dim
                  </span>
                )}
                {meaning?.on && meaning.similarity[g.id] !== undefined && (
                  <span className="block text-xs text-neutral-500" data-testid="gallery-similarity">
                    similarity {meaning.similarity[g.id].toFixed(3)}
                  </span>
                )}
              </Link>
            </li>
          ))}
        </ul>
      )}
      {pages > 1 && (
        <nav className="flex items-center gap-3 text-sm" aria-label="Pages">
          {query.page > 1 && (
            <Link href={link(query.page - 1)} className="text-tile-700 underline">
              ← Newer
            </Link>
          )}
          <span className="text-neutral-500">
            page {query.page} of {pages}
            {capped ? "+" : ""}
          </span>
          {query.page < pages && (
            <Link href={link(query.page + 1)} className="text-tile-700 underline">
              Older →
            </Link>
          )}
        </nav>
      )}
    </div>
  );
}
