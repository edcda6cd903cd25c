"use client";
// The buttons of the VAE tools (see ./vae-tools.tsx): "Variations" asks POST /api/images/[id]/variations for k
// samples around the chosen image; "Blend" asks POST /api/blend for a strip from it to another image of this
// generation or any gallery image pasted as an id or a link. Requests are checked with the schemas the API uses.
import { useState } from "react";
import {
  BLEND,
  BlendRequest,
  imageRefFromInput,
  VARIATIONS,
  VariationsRequest,
  type BlendResponse,
  type VariationsResponse,
} from "@/lib/generate/vae-edit-params";

type Result = { kind: "variations"; data: VariationsResponse } | { kind: "blend"; data: BlendResponse };
const OTHER = "other";

async function post<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(json?.error?.message ?? `the server answered ${res.status}`);
  return json as T;
}

export function VaeToolsClient({ images }: { images: { id: string; index: number }[] }) {
  const [source, setSource] = useState(images[0].id);
  const [k, setK] = useState<number>(VARIATIONS.kDefault);
  const [scale, setScale] = useState<number>(VARIATIONS.scaleDefault);
  const others = images.filter((i) => i.id !== source);
  const [target, setTarget] = useState<string>(others[0]?.id ?? OTHER);
  // The chosen target, or the first other image once the source has become the target.
  const blendTo = target === OTHER || others.some((o) => o.id === target) ? target : (others[0]?.id ?? OTHER);
  const [pasted, setPasted] = useState("");
  const [steps, setSteps] = useState<number>(BLEND.stepsDefault);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<Result | null>(null);
  const label = (id: string) => `image ${(images.find((i) => i.id === id)?.index ?? 0) + 1}`;

  async function run(kind: Result["kind"]) {
    setError(null);
    try {
      if (kind === "variations") {
        const body = VariationsRequest.parse({ k, scale });
        setBusy(true);
        setResult({ kind, data: await post<VariationsResponse>(`/api/images/${source}/variations`, body) });
      } else {
        const b = blendTo === OTHER ? imageRefFromInput(pasted) : blendTo;
        if (!b) throw new Error("paste a gallery image's id or link (/api/images/… or /gallery/…)");
        const parsed = BlendRequest.safeParse({ a: source, b, steps });
        if (!parsed.success) throw new Error(parsed.error.issues[0].message);
        setBusy(true);
        setResult({ kind, data: await post<BlendResponse>("/api/blend", parsed.data) });
      }
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const field = "rounded border border-neutral-300 px-2 py-1 text-sm";
  const button = "rounded bg-tile-700 px-3 py-1 text-sm text-white disabled:opacity-50";
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <label className="flex items-center gap-1">
          Image
          <select className={field} value={source} onChange={(e) => setSource(e.target.value)} data-testid="vae-source">
            {images.map((i) => (
              <option key={i.id} value={i.id}>
                {label(i.id)}
              </option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-1">
          k
          <select className={field} value={k} onChange={(e) => setK(Number(e.target.value))} data-testid="vae-k">
            {[4, 8, 12, 16].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-1" title="How far from the image: its posterior spread times this (0 = its reconstruction)">
          spread ×{scale.toFixed(2)}
          <input
            type="range"
            min={0}
            max={VARIATIONS.scaleMax}
            step={0.25}
            value={scale}
            onChange={(e) => setScale(Number(e.target.value))}
            data-testid="vae-scale"
          />
        </label>
        <button className={button} disabled={busy} onClick={() => run("variations")} data-testid="vae-variations-button">
          Variations
        </button>
      </div>
      <div className="flex flex-wrap items-center gap-3 text-sm">
        <label className="flex items-center gap-1">
          Blend with
          <select className={field} value={blendTo} onChange={(e) => setTarget(e.target.value)} data-testid="vae-blend-target">
            {others.map((i) => (
              <option key={i.id} value={i.id}>
                {label(i.id)}
              </option>
            ))}
            <option value={OTHER}>another gallery image…</option>
          </select>
        </label>
        {blendTo === OTHER && (
          <input
            className={`${field} w-72`}
            placeholder="image id or link (/api/images/… or /gallery/…)"
            value={pasted}
            onChange={(e) => setPasted(e.target.value)}
            data-testid="vae-blend-input"
          />
        )}
        <label className="flex items-center gap-1">
          frames
          <select className={field} value={steps} onChange={(e) => setSteps(Number(e.target.value))} data-testid="vae-steps">
            {[BLEND.stepsMin, 5, 8, 12, BLEND.stepsMax].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <button className={button} disabled={busy} onClick={() => run("blend")} data-testid="vae-blend-button">
          Blend
        </button>
      </div>
      {busy && <p className="text-xs text-neutral-500">drawing…</p>}
      {error && (
        <p role="alert" className="text-sm text-red-700" data-testid="vae-error">
          {error}
        </p>
      )}
      {result && (
        <figure className="space-y-1">
          <div
            className={result.kind === "variations" ? "grid grid-cols-4 gap-2 sm:grid-cols-8" : "flex gap-1 overflow-x-auto"}
            data-testid={result.kind === "variations" ? "vae-variations" : "vae-blend"}
          >
            {result.data.images.map((src, i) => (
              <img
                key={i}
                src={src}
                alt={`${result.kind === "variations" ? "variation" : "blend frame"} ${i + 1}`}
                width={64}
                height={64}
                className={`${result.kind === "blend" ? "w-16 shrink-0 " : "w-full "}rounded border border-neutral-200 bg-white [image-rendering:pixelated]`}
                data-testid={result.kind === "variations" ? "vae-variation" : "vae-blend-frame"}
              />
            ))}
          </div>
          <figcaption className="text-xs text-neutral-500" data-testid="vae-caption">
            {result.kind === "variations"
              ? `${result.data.k} samples of q(z|x) at ×${result.data.scale} spread, seed ${result.data.seed}`
              : `${result.data.steps} frames, spherical interpolation of the two latents`}
            {` · ${result.data.ms} ms · ${result.data.model}`}
          </figcaption>
        </figure>
      )}
    </div>
  );
}
