import type { Metadata } from "next";
import Link from "next/link";
import { getDb } from "@/lib/db/client";
import { findActiveModelVersion } from "@/lib/db/versions";
import { labCards } from "@/lib/lab";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Lab" };

const number = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));

/** /lab: the course's other generative models, each with what it is, what it optimises, its metrics and its job. */
export default async function LabPage() {
  const active = await findActiveModelVersion(getDb());
  if (!active) return <p data-testid="lab-empty">No model is active yet.</p>;
  const cards = labCards(active.path);
  return (
    <div className="max-w-3xl space-y-6">
      <h1 className="text-2xl font-bold">Lab</h1>
      <p className="text-neutral-600">
        Models beside the transformer, each with a job in the app, from the active model <strong>{active.name}</strong>
        {"'s"} folder (<code>lab/</code>; train one with <code>npm run train:lab -- --model vae|flow</code>).
      </p>
      {cards.map(({ kind, info, trained }) => (
        <section key={kind} className="space-y-2 rounded border border-neutral-200 p-4" data-testid={`lab-${kind}`}>
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
    </div>
  );
}
