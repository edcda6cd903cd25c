"use client";

// "Run on: this browser" (issue 33): the model's files are downloaded once (progress in bytes), the codes are sampled
// here with the server's seeded sampler and streamed into the same grid as the server's partial pictures, and then
// only the codes (with the request and seed) are posted: the server checks them, decodes them itself and stores a
// generation marked "made in the browser". Browser runs are not reranked.
import { useState } from "react";
import type { GenerationRequest } from "@/lib/generate/params";
import { errorMessage, type JobPhase } from "./use-generation-job";

export type LoadState =
  | { kind: "idle" }
  | { kind: "loading"; loaded: number; total: number; cached: number }
  /** `cached`: bytes this browser's Cache Storage gave instead of the network (all of them on a second visit). */
  | { kind: "ready"; total: number; cached: number };

/** RGBA pixels [S, S, 4] → a PNG data URL, for the grid. */
function dataUrl(rgba: Uint8ClampedArray, size: number): string {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  canvas.getContext("2d")!.putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
  return canvas.toDataURL("image/png");
}

/** Partial pictures every this many tokens, as the server's PARTIAL_EVERY default. */
const PARTIAL_EVERY = 8;

export function useBrowserRun(setPhase: (p: JobPhase | ((p: JobPhase) => JobPhase)) => void) {
  const [load, setLoad] = useState<LoadState>({ kind: "idle" });

  async function run(request: GenerationRequest & { model: string }): Promise<void> {
    const { browserSupport, fetchManifest, loadPageModel } = await import("@/lib/browser/load");
    const { decodeInPage, sampleInPage } = await import("@/lib/browser/generate");
    const unsupported = browserSupport();
    if (unsupported) return setPhase({ kind: "error", message: unsupported });
    const id = "browser";
    // Marks for `npm run bench:browser` (training/bench/browser.ts), read with performance.getEntriesByType("mark").
    const mark = (name: string) => performance.mark(`tessera:${name}`);
    try {
      mark("start");
      const manifest = await fetchManifest(request.model);
      let cached = 0;
      const model = await loadPageModel(manifest, (p) => {
        cached = p.cached;
        setLoad({ kind: "loading", ...p });
      });
      // A second run in the same page reuses the loaded sessions: no progress, nothing fetched.
      setLoad((l) => ({ kind: "ready", total: manifest.totalBytes, cached: l.kind === "ready" ? l.cached : cached }));
      mark("loaded");
      const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
      const settings = {
        prompt: request.prompt,
        n: request.n,
        guidance: request.guidance ?? manifest.sampling.guidance,
        temperature: request.temperature ?? manifest.sampling.temperature,
        topK: request.topK ?? manifest.sampling.topK,
        seed,
      };
      setPhase({ kind: "waiting", id, done: 0, total: 0, partial: [] });
      const size = manifest.image.size;
      const codes = await sampleInPage(model, settings, async ({ index, total, codes }) => {
        const done = index + 1;
        const partial =
          done % PARTIAL_EVERY === 0 || done === total ? (await decodeInPage(model, codes)).map((p) => dataUrl(p, size)) : null;
        if (done === total) mark("sampled");
        else if (partial && done === PARTIAL_EVERY) mark("first-image");
        setPhase((p) => (p.kind === "waiting" && p.id === id ? { ...p, done, total, partial: partial ?? p.partial } : p));
      });
      const res = await fetch("/api/generations/browser", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ request: { ...settings, model: request.model }, codes: codes.map((c) => [...c]) }),
      });
      if (!res.ok) return setPhase({ kind: "error", message: await errorMessage(res) });
      mark("stored");
      const { id: stored } = (await res.json()) as { id: string };
      const job = await fetch(`/api/generations/${stored}`);
      if (!job.ok) return setPhase({ kind: "error", message: await errorMessage(job) });
      const body = await job.json();
      setPhase({
        kind: "done",
        id: stored,
        images: body.images,
        seed: body.seed,
        timings: body.timings,
        streamed: codes[0].length,
        candidates: null,
      });
    } catch (err) {
      setLoad((l) => (l.kind === "loading" ? { kind: "idle" } : l));
      setPhase({ kind: "error", message: `running in this browser failed: ${(err as Error).message}` });
    }
  }

  return { load, run };
}
