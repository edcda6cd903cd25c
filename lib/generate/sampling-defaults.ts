// A model's recommended sampling settings, read from its folder's manifest (`extra.sampling`, which
// `npm run eval:gpt -- <model> --write-defaults` stores after its sweep), so the server and the Create form start
// from what was measured best for that model. Cached by the manifest's modification time.
import fs from "node:fs";
import path from "node:path";
import { SAMPLING_FALLBACK, SamplingDefaults } from "./params";

const cache = new Map<string, { mtimeMs: number; value: SamplingDefaults }>();

/** The defaults in `<dir>/manifest.json`, or the fallback when it has none (or none that are valid). */
export function samplingDefaultsFor(dir: string): SamplingDefaults {
  const file = path.join(path.resolve(/*turbopackIgnore: true*/ dir), "manifest.json");
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return { ...SAMPLING_FALLBACK };
  }
  const hit = cache.get(file);
  if (hit?.mtimeMs === mtimeMs) return hit.value;
  let value: SamplingDefaults = { ...SAMPLING_FALLBACK };
  try {
    const raw = (JSON.parse(fs.readFileSync(file, "utf8")) as { extra?: { sampling?: unknown } }).extra?.sampling;
    const parsed = SamplingDefaults.safeParse(raw);
    if (parsed.success) value = parsed.data;
  } catch {
    // An unreadable manifest is the registry's to report; sampling falls back quietly.
  }
  cache.set(file, { mtimeMs, value });
  return value;
}
