"use client";

// The Create form: a model picker, a prompt, options behind an "advanced" toggle, and a grid that fills in while
// image tokens arrive (partial pictures over Server-Sent Events), then shows the final images. The page renders
// every servable model's sampling defaults, rerank offer and examples; picking a model switches the form to its
// own, client-side. With a CLIP in the model, each request samples `candidates` images and keeps the n CLIP scores
// best; the partial pictures are those of the first n candidates, so the final (best) images may differ from the
// last partial ones. "Start from an image" primes every image with the top rows of an uploaded picture (sent as
// multipart/form-data with the same JSON); while it runs, the kept rows show first, then the partial pictures.
import { useEffect, useState } from "react";
import { firstIssue, generationParamsFor, PROMPT_MAX, UPLOAD_INIT, type RerankOffer, type SamplingDefaults } from "@/lib/generate/params";
import { AdvancedOptions, type Options } from "./advanced-options";
import { ImageGrid } from "./image-grid";
import { InitPicker, type InitChoice } from "./init-picker";
import { KeptRowsPreview } from "./kept-rows";
import { ModelPicker } from "./model-picker";
import { RunOnPicker, type RunOn } from "./run-on";
import { useBrowserRun } from "./use-browser-run";
import { useGenerationJob } from "./use-generation-job";

/** One servable model as the page renders it for the form. */
export interface ModelOption {
  id: string;
  name: string;
  active: boolean;
  /** Its measured sampling defaults (its manifest), or the app's fallback. */
  sampling: SamplingDefaults;
  /** The server's candidate default and cap, and whether this model has a CLIP to rank them. */
  rerank: RerankOffer;
  /** Its manifest's example prompts, or the page's own. */
  examples: string[];
  /** Rows (and columns) of codes of its images: how many rows "Start from an image" may keep (1 to imageGrid − 1). */
  imageGrid: number;
}

const DEFAULT_N = 4;

/** The options a model starts the form with: its sampling defaults and the server's candidate default. */
const modelOptions = (m: ModelOption) => ({ ...m.sampling, candidates: m.rerank.default });

export function CreateForm({
  models,
  initialModel,
  initialPrompt = "",
}: {
  /** The servable models, the active one first. */
  models: ModelOption[];
  /** The id of the model picked at first. */
  initialModel: string;
  initialPrompt?: string;
}) {
  const [modelId, setModelId] = useState(initialModel);
  const model = models.find((m) => m.id === modelId) ?? models[0];
  const { rerank, examples } = model;
  const [prompt, setPrompt] = useState(initialPrompt);
  const [options, setOptions] = useState<Options>({ n: DEFAULT_N, ...modelOptions(model), seed: "" });
  const [advanced, setAdvanced] = useState(false);
  const [init, setInit] = useState<InitChoice | null>(null);
  // The picture the running job started from, shown (its kept rows) until the first partial pictures arrive.
  const [sent, setSent] = useState<{ url: string; keepRows: number } | null>(null);
  const { phase, setPhase, follow } = useGenerationJob();
  const [runOn, setRunOn] = useState<RunOn>("server");
  const browser = useBrowserRun(setPhase);
  useEffect(() => () => void (sent && URL.revokeObjectURL(sent.url)), [sent]);

  // Another model: its own sampling defaults and candidates; the number of images and the seed stay.
  function pickModel(id: string) {
    const next = models.find((m) => m.id === id);
    if (!next) return;
    setModelId(id);
    setOptions((o) => ({ ...o, ...modelOptions(next) }));
  }

  // Live token count and unseen-word warning from the picked model's own tokenizer, debounced.
  const [tokenInfo, setTokenInfo] = useState<{ tokens: number; maxTokens: number; truncated: boolean; unknownWords: string[] } | null>(
    null,
  );
  useEffect(() => {
    if (!prompt.trim()) return setTokenInfo(null);
    const timer = setTimeout(async () => {
      const res = await fetch("/api/tokenize", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt, model: model.id }),
      }).catch(() => null);
      if (res?.ok) setTokenInfo(await res.json());
    }, 250);
    return () => clearTimeout(timer);
  }, [prompt, model.id]);

  async function submit(seedOverride?: number) {
    const seed = seedOverride ?? (options.seed.trim() ? Number(options.seed) : undefined);
    // Without a CLIP the server samples n whatever candidates says: the field is off and not sent.
    const candidates = rerank.rerank ? options.candidates : undefined;
    const keepRows = init ? Math.min(init.keepRows, model.imageGrid - 1) : undefined;
    const request = {
      prompt,
      n: options.n,
      guidance: options.guidance,
      temperature: options.temperature,
      topK: options.topK,
      seed,
      candidates,
      model: model.id,
      ...(init ? { init: UPLOAD_INIT, keepRows } : {}),
    };
    // The API's own schema under the server's cap: the same limits and messages here, before a round trip.
    const checked = generationParamsFor(rerank.max).safeParse(request);
    if (!checked.success) return setPhase({ kind: "error", message: firstIssue(checked.error) });
    if (runOn === "browser") {
      if (init) return setPhase({ kind: "error", message: "starting from an image runs on the server only: pick “server”" });
      const { candidates: _notRanked, ...asked } = checked.data;
      return browser.run({ ...asked, model: model.id });
    }
    setSent(init && keepRows ? { url: URL.createObjectURL(init.file), keepRows } : null);
    await follow(() => {
      if (!init) {
        return fetch("/api/generations", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(checked.data),
        });
      }
      // A picture goes as multipart/form-data: the same JSON in `request`, the file in `image`.
      const form = new FormData();
      form.set("request", JSON.stringify(checked.data));
      form.set("image", init.file);
      return fetch("/api/generations", { method: "POST", body: form });
    });
  }

  const busy = phase.kind === "waiting";

  return (
    <div className="space-y-4">
      <form
        className="space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <ModelPicker models={models} value={model.id} disabled={busy} onChange={pickModel} />
        <label className="block">
          <span className="sr-only">Prompt</span>
          <textarea
            value={prompt}
            onChange={(e) => setPrompt(e.target.value)}
            rows={2}
            maxLength={PROMPT_MAX}
            placeholder={examples[0] ? `e.g. ${examples[0]}` : undefined}
            data-testid="prompt"
            className="w-full rounded-md border border-neutral-300 bg-white p-3 text-base shadow-sm focus:border-tile-500 focus:outline-none"
          />
        </label>
        <div className="flex flex-wrap items-center gap-2 text-sm">
          <span className={prompt.trim().length >= PROMPT_MAX ? "text-amber-700" : "text-neutral-500"} data-testid="prompt-length">
            {prompt.trim().length}/{PROMPT_MAX}
          </span>
          {tokenInfo && (
            <span className={tokenInfo.truncated ? "text-amber-700" : "text-neutral-500"} data-testid="token-count">
              {Math.min(tokenInfo.tokens, tokenInfo.maxTokens)}/{tokenInfo.maxTokens} tokens
              {tokenInfo.truncated ? " (the rest is cut)" : ""}
            </span>
          )}
          {tokenInfo && tokenInfo.unknownWords.length > 0 && (
            <span className="text-amber-700" data-testid="unknown-words">
              never seen in training: {tokenInfo.unknownWords.join(", ")}
            </span>
          )}
          <span className="text-neutral-400">try:</span>
          {examples.map((ex) => (
            <button
              key={ex}
              type="button"
              onClick={() => setPrompt(ex)}
              className="rounded-full bg-neutral-100 px-3 py-1 text-neutral-700 hover:bg-neutral-200"
              data-testid="example"
            >
              {ex}
            </button>
          ))}
        </div>
        <div className="flex flex-wrap items-center gap-3">
          <button
            type="submit"
            disabled={busy}
            className="rounded-md bg-tile-700 px-4 py-2 font-medium text-white hover:bg-tile-500 disabled:opacity-50"
            data-testid="generate"
          >
            {busy ? "Generating…" : "Generate"}
          </button>
          <button
            type="button"
            onClick={() => setAdvanced(!advanced)}
            className="text-sm text-tile-700 underline"
            aria-expanded={advanced}
            data-testid="advanced-toggle"
          >
            {advanced ? "Hide options" : "Advanced options"}
          </button>
        </div>
        {advanced && <AdvancedOptions options={options} onChange={setOptions} rerank={rerank} />}
        <InitPicker value={init} onChange={setInit} grid={model.imageGrid} disabled={busy} />
        <RunOnPicker value={runOn} onChange={setRunOn} model={model.id} load={browser.load} disabled={busy} />
      </form>

      {phase.kind === "error" && (
        <p role="alert" className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800" data-testid="create-error">
          {phase.message}
        </p>
      )}
      {phase.kind === "waiting" && (
        <div className="space-y-2" data-testid="progress">
          <div className="h-2 w-full overflow-hidden rounded bg-neutral-200">
            <div
              className="h-full bg-tile-500 transition-all"
              style={{ width: `${phase.total ? (100 * phase.done) / phase.total : 100 * (phase.fraction ?? 0)}%` }}
            />
          </div>
          <p className="text-sm text-neutral-600">
            {phase.total
              ? `writing image tokens: ${phase.done}/${phase.total}`
              : phase.running
                ? `generating… ${Math.round(100 * (phase.fraction ?? 0))} %`
                : "waiting in the queue…"}
          </p>
          {sent && (
            <div className="flex items-center gap-3 text-sm text-neutral-600" data-testid="kept-rows">
              <KeptRowsPreview src={sent.url} keepRows={sent.keepRows} grid={model.imageGrid} testId="kept-rows-preview" />
              <span>{phase.partial.length ? "the kept rows, then the rest as it is written:" : "starting from the kept rows…"}</span>
            </div>
          )}
          <ImageGrid urls={phase.partial} testId="partial-image" />
        </div>
      )}
      {phase.kind === "done" && (
        <div className="space-y-2" data-testid="result">
          <ImageGrid urls={phase.images.map((i) => i.url)} testId="result-image" downloads />
          <div className="flex flex-wrap gap-3 text-sm">
            <span className="text-neutral-500" data-testid="result-info">
              seed {phase.seed}
              {phase.timings?.totalMs ? ` · ${(phase.timings.totalMs / 1000).toFixed(1)} s` : ""}
              {phase.streamed ? ` · ${phase.streamed} tokens streamed` : ""}
            </span>
            <span className="text-neutral-500" data-testid="result-rerank">
              {phase.candidates
                ? `best ${phase.images.length} of ${phase.candidates} by CLIP`
                : phase.id && runOn === "browser"
                  ? "made in this browser, not reranked"
                  : "reranking off"}
            </span>
            <a href={`/gallery/${phase.id}`} className="text-tile-700 underline" data-testid="open-in-gallery">
              Open in gallery
            </a>
            <button
              type="button"
              className="text-tile-700 underline"
              onClick={() => void submit(Math.floor(Math.random() * 2 ** 31))}
              data-testid="new-seed"
            >
              Same prompt, new seed
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
