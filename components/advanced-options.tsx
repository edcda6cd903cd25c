// The Create form's advanced options: images, candidates (off without a CLIP), guidance, temperature, top-k, seed.
import type { RerankOffer } from "@/lib/generate/params";

export interface Options {
  n: number;
  guidance: number;
  temperature: number;
  topK: number;
  candidates: number;
  seed: string;
}

export function AdvancedOptions({
  options,
  onChange,
  rerank,
}: {
  options: Options;
  onChange: (options: Options) => void;
  /** The picked model's offer: the candidates field is off when it has no CLIP. */
  rerank: RerankOffer;
}) {
  const number = (key: keyof Options, label: string, min: number, max: number, step: number, disabled = false) => (
    <label className="flex flex-col gap-1 text-sm">
      <span className="text-neutral-600">{label}</span>
      <input
        type="number"
        min={min}
        max={max}
        step={step}
        disabled={disabled}
        value={options[key]}
        data-testid={`option-${key}`}
        onChange={(e) => onChange({ ...options, [key]: Number(e.target.value) })}
        className="rounded border border-neutral-300 px-2 py-1 disabled:bg-neutral-100 disabled:text-neutral-400"
      />
    </label>
  );
  return (
    <div className="grid grid-cols-2 gap-3 sm:grid-cols-6" data-testid="advanced">
      {number("n", "Images (1–9)", 1, 9, 1)}
      {number(
        "candidates",
        rerank.rerank ? `Candidates (n–${rerank.max}; CLIP keeps the best n)` : "Candidates (off: this model has no CLIP)",
        1,
        rerank.max,
        1,
        !rerank.rerank,
      )}
      {number("guidance", "Guidance (1–10)", 1, 10, 0.5)}
      {number("temperature", "Temperature", 0.1, 2, 0.1)}
      {number("topK", "Top-k (0 = off)", 0, 512, 1)}
      <label className="flex flex-col gap-1 text-sm">
        <span className="text-neutral-600">Seed (blank = random)</span>
        <input
          value={options.seed}
          onChange={(e) => onChange({ ...options, seed: e.target.value })}
          inputMode="numeric"
          data-testid="option-seed"
          className="rounded border border-neutral-300 px-2 py-1"
        />
      </label>
    </div>
  );
}
