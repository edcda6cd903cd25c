// The sampling settings an eval chose for a model, kept in its manifest (`extra.sampling`) so the server and the
// Create form start from what was measured best rather than from a guess.
import fs from "node:fs";
import path from "node:path";
import { readCheckpointManifest } from "../../lib/model/checkpoint";

export interface SamplingDefaults {
  guidance: number;
  temperature: number;
  topK: number | null;
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
