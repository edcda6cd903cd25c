"use client";

// The client half of the transformer tools (./transformer-tools.tsx). "Complete from row k" keeps rows 1–k of the
// chosen image's codes and samples the rest (the slider's preview veils the rows that will be redrawn); "Vary with
// the transformer" keeps only the top VARY_ROWS rows, so the layout's first strip stays and the transformer
// redraws the rest. Both post POST /api/generations {init: {generationId, index}, keepRows} with the prompt and
// model of this generation, a fresh seed, and stream the new job as the Create page does.
import { useState } from "react";
import { generationParamsFor, CANDIDATES_LIMIT, firstIssue } from "@/lib/generate/params";
import { ImageGrid } from "./image-grid";
import { KeepRowsSlider, KeptRowsPreview, keptRowsLabel } from "./kept-rows";
import { useGenerationJob } from "./use-generation-job";

/** Rows a variation keeps: a quarter of an 8-row grid, so the picture's top stays and most of it is redrawn. */
const VARY_ROWS = 2;
/** Images a completion or variation asks for. */
const IMAGES = 4;

export function TransformerToolsClient({
  generationId,
  prompt,
  model,
  images,
  grid,
}: {
  generationId: string;
  prompt: string;
  model?: string;
  images: { id: string; index: number }[];
  grid: number;
}) {
  const [index, setIndex] = useState(images[0].index);
  const [rows, setRows] = useState(Math.floor(grid / 2));
  const { phase, setPhase, follow } = useGenerationJob();
  const image = images.find((i) => i.index === index) ?? images[0];
  const busy = phase.kind === "waiting";

  async function run(keepRows: number) {
    const request = {
      prompt,
      n: IMAGES,
      seed: Math.floor(Math.random() * 2 ** 31),
      ...(model ? { model } : {}),
      init: { generationId, index: image.index },
      keepRows,
    };
    const checked = generationParamsFor(CANDIDATES_LIMIT).safeParse(request);
    if (!checked.success) return setPhase({ kind: "error", message: firstIssue(checked.error) });
    await follow(() =>
      fetch("/api/generations", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(checked.data) }),
    );
  }

  const field = "rounded border border-neutral-300 px-2 py-1 text-sm";
  const button = "rounded bg-tile-700 px-3 py-1 text-sm text-white disabled:opacity-50";
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-4">
        <KeptRowsPreview src={`/api/images/${image.id}`} keepRows={rows} grid={grid} testId="complete-preview" />
        <div className="space-y-2 text-sm">
          {images.length > 1 && (
            <label className="flex items-center gap-1">
              Image
              <select className={field} value={index} onChange={(e) => setIndex(Number(e.target.value))} data-testid="complete-source">
                {images.map((i) => (
                  <option key={i.id} value={i.index}>
                    image {i.index + 1}
                  </option>
                ))}
              </select>
            </label>
          )}
          <KeepRowsSlider value={rows} grid={grid} onChange={setRows} testId="complete-rows" />
          <p className="text-neutral-500">{keptRowsLabel(rows, grid)}</p>
          <div className="flex flex-wrap gap-2">
            <button type="button" className={button} disabled={busy} onClick={() => void run(rows)} data-testid="complete-run">
              Complete from row {rows + 1}
            </button>
            <button
              type="button"
              className={button}
              disabled={busy}
              onClick={() => void run(Math.min(VARY_ROWS, grid - 1))}
              data-testid="vary-run"
            >
              Vary with the transformer
            </button>
          </div>
        </div>
      </div>
      {phase.kind === "error" && (
        <p role="alert" className="text-sm text-red-700" data-testid="complete-error">
          {phase.message}
        </p>
      )}
      {phase.kind === "waiting" && (
        <div className="space-y-2" data-testid="complete-progress">
          <p className="text-sm text-neutral-600">
            {phase.total ? `writing image tokens: ${phase.done}/${phase.total}` : "waiting in the queue…"}
          </p>
          <ImageGrid urls={phase.partial} testId="complete-partial" />
        </div>
      )}
      {phase.kind === "done" && (
        <div className="space-y-2" data-testid="complete-result">
          <ImageGrid urls={phase.images.map((i) => i.url)} testId="complete-image" downloads />
          <a href={`/gallery/${phase.id}`} className="text-sm text-tile-700 underline" data-testid="complete-open">
            Open in gallery (seed {phase.seed})
          </a>
        </div>
      )}
    </div>
  );
}
