import type { Metadata } from "next";
import Link from "next/link";
import { getDb } from "@/lib/db/client";
import { findActiveModelVersion } from "@/lib/db/versions";
import { labCards, labComparison, labVariationKeep } from "@/lib/lab";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Lab" };

const number = (v: number) => (Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;

/** /lab: the course's other generative models, each with what it is, what it optimises, its metrics and its job. */
export default async function LabPage() {
  const active = await findActiveModelVersion(getDb());
  if (!active) return <p data-testid="lab-empty">No model is active yet.</p>;
  const cards = labCards(active.path);
  const comparison = labComparison(active.path);
  const keep = labVariationKeep(active.path);
  return (
    <div className="max-w-3xl space-y-6">
      <h1 className="text-2xl font-bold">Lab</h1>
      <p className="text-neutral-600">
        Models beside the transformer, each with a job in the app, from the active model <strong>{active.name}</strong>
        {"'s"} folder (<code>lab/</code>; train one with <code>npm run train:lab -- --model vae|flow|dae|aae</code>, fit ICA and PCA with{" "}
        <code>npm run fit:ica</code>, compare the samples with <code>npm run eval:lab</code>).
      </p>
      {cards.map(({ kind, info, trained }) => (
        <section key={kind} id={`lab-${kind}`} className="space-y-2 rounded border border-neutral-200 p-4" data-testid={`lab-${kind}`}>
          <h2 className="text-lg font-semibold">{info.title}</h2>
          <p className="text-sm">{info.what}</p>
          <p className="text-sm">
            <span className="font-medium">Objective:</span> <code className="text-xs">{info.objective}</code>
          </p>
          {trained ? (
            <>
              <dl className="grid grid-cols-[1fr_auto] gap-x-4 text-sm" data-testid={`lab-${kind}-metrics`}>
                {trained.steps !== null && (
                  <div className="contents">
                    <dt className="text-neutral-500">training steps</dt>
                    <dd>{trained.steps}</dd>
                  </div>
                )}
                {trained.metrics.map(([label, value]) => (
                  <div key={label} className="contents">
                    <dt className="text-neutral-500">{label}</dt>
                    <dd>{number(value)}</dd>
                  </div>
                ))}
              </dl>
              {trained.hasSamples && (
                // A sample sheet, not one picture: its own size, upscaled without smoothing.
                <img
                  src={`/api/models/${active.id}/samples?lab=${kind}`}
                  alt={`${info.title}: samples`}
                  className="max-w-full [image-rendering:pixelated]"
                  data-testid={`lab-${kind}-samples`}
                />
              )}
            </>
          ) : (
            <p className="text-sm text-neutral-500" data-testid={`lab-${kind}-untrained`}>
              Not trained for this model yet.
            </p>
          )}
          <p className="text-sm">
            Used in:{" "}
            {info.usedIn.map((u, i) => (
              <span key={u.href + u.label}>
                {i > 0 && " · "}
                <Link href={u.href} className="text-tile-700 underline">
                  {u.label}
                </Link>
              </span>
            ))}
          </p>
        </section>
      ))}
      <section id="compare" className="space-y-2 rounded border border-neutral-200 p-4" data-testid="lab-compare">
        <h2 className="text-lg font-semibold">Sample quality: AAE against VAE</h2>
        <p className="text-sm">
          Prior samples and val reconstructions of each, beside real held-out emoji (the ceiling) and samples of a diagonal Gaussian on
          pixels (the floor). Bits/dim under the Real-NVP (lower is more like the data) and the share it flags; CLIP score (100 × cosine to
          the best label prompt); label retrieval: how often CLIP{"'"}s label agrees with the label of the nearest training image in pixels
          (exact top-1; family within CLIP{"'"}s top 5).
        </p>
        {comparison ? (
          <table className="w-full text-sm" data-testid="lab-compare-table">
            <thead>
              <tr className="text-left text-neutral-500">
                <th className="font-normal">images</th>
                <th className="font-normal">bits/dim</th>
                <th className="font-normal">flagged</th>
                <th className="font-normal">CLIP score</th>
                <th className="font-normal">labels agree @1</th>
                <th className="font-normal">family @5</th>
              </tr>
            </thead>
            <tbody>
              {comparison.map((r) => (
                <tr key={r.name}>
                  <td>{r.name}</td>
                  <td>{r.bitsPerDim.toFixed(2)}</td>
                  <td>{pct(r.atypical)}</td>
                  <td>{r.clipScore.toFixed(1)}</td>
                  <td>{pct(r.labelsExact1)}</td>
                  <td>{pct(r.labelsFamily5)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {comparison && keep.length ? (
          <p className="text-sm" data-testid="lab-variation-keep">
            Variations (4 of each of {keep[0].sources} val emoji) that keep their source{"'"}s label family:{" "}
            {keep
              .map((k) => `${k.model} ${pct(k.keepsFamilyPixels)} by the nearest training image, ${pct(k.keepsFamilyClip)} by CLIP`)
              .join("; ")}
            .
          </p>
        ) : null}
        {comparison ? null : (
          <p className="text-sm text-neutral-500" data-testid="lab-compare-missing">
            Not measured for this model yet (<code>npm run eval:lab</code>).
          </p>
        )}
      </section>
    </div>
  );
}
