// The sampling settings an eval chose for a model, kept in its manifest (`extra.sampling`) so the server and the
// Create form start from what was measured best rather than from a guess. The server parses only guidance,
// temperature and topK (lib/generate/params.ts drops other keys); `measured` is kept beside them so whoever reads
// the manifest sees why the setting was chosen and how varied its pictures were.
import fs from "node:fs";
import path from "node:path";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import type { Variety } from "./variety";

export interface SamplingDefaults {
  guidance: number;
  temperature: number;
  topK: number | null;
  /** What eval:gpt measured at this setting (training/gpt/variety.ts), pooled over its held-out and train prompts. */
  measured?: {
    /** The eval's accuracy score: the mean of train exact@1 and held-out family@1. */
    accuracy: number;
    /** Pictures per prompt the variety was measured over. */
    images: number;
    variety: Variety;
    /** The same over the n pictures CLIP kept of `candidates`, the server's reranking; absent without a CLIP. */
    reranked?: { candidates: number; variety: Variety };
    maxNearCopies: number;
    /** Which pictures accuracy and variety were judged on: the first `images` as sampled, or the served (reranked) ones. */
    judgedOn?: "first" | "served";
    /** Whether the setting met the near-copy threshold (false: none did, and it is the most varied). */
    qualified: boolean;
    reason: string;
  };
}

/** Rewrites `<dir>/manifest.json` with `extra.sampling` set (the weights and their checksum are untouched). */
export function updateSamplingDefaults(dir: string, defaults: SamplingDefaults): void {
  updateManifestExtra(dir, { sampling: defaults });
}

/** Rewrites `<dir>/manifest.json` with these `extra` fields set (e.g. `examples`, the Create page's prompts). */
export function updateManifestExtra(dir: string, patch: Record<string, unknown>): void {
  const m = readCheckpointManifest(dir);
  const file = path.join(dir, "manifest.json");
  const next = { ...m, extra: { ...m.extra, ...patch } };
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(next, null, 2) + "\n");
  fs.renameSync(`${file}.tmp`, file);
}
