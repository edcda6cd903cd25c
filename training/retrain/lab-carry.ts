// Carrying the lab (issue 19) into a retrained model version. The lab models (VAE, flow, DAE, …: lib/lab.ts) are
// trained on the emoji corpus and work on any 32×32 RGB image; a retrain on the admin's data does not retrain them.
// Without a `lab/` folder the new version would switch off the app's VAE tools, the typicality score and /lab the
// moment it is activated, so the export stage copies the source model's lab instead.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Db } from "../../lib/db/client";
import { findActiveModelVersion } from "../../lib/db/versions";

/** The shipped model folder: the fallback for the lab and the denoiser when the active version has none. */
export const DEFAULT_MODEL_DIR = path.join("models", "default");

/** A folder as the log shows it: relative to the project root when inside it, else absolute. */
export function displayPath(dir: string): string {
  const rel = path.relative(process.cwd(), dir);
  return rel.startsWith("..") || path.isAbsolute(rel) ? path.resolve(dir) : rel || ".";
}

/** The active model version's folder (absolute), or undefined when no version is active. */
export async function activeModelDir(db: Db): Promise<string | undefined> {
  const active = await findActiveModelVersion(db);
  // Versions store their path relative to the project root (or absolute): resolve it like the server does.
  return active ? path.resolve(active.path) : undefined;
}

export interface LabSource {
  /** The model folder whose `lab/` is carried. */
  modelDir: string;
  /** Kinds found in it (sub-folders with a manifest.json), sorted. */
  kinds: string[];
  /** Content hash of what would be carried: a changed or newly trained lab model re-runs the export stage. */
  hash: string;
}

/** Visible entries only: saveCheckpoint writes `.<name>.tmp-<pid>` folders beside a lab model while it saves. */
const visible = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith("."))
    .sort();

function labHash(labDir: string): string {
  const h = createHash("sha256");
  const walk = (dir: string, rel: string) => {
    for (const f of visible(dir)) {
      const full = path.join(dir, f);
      const s = fs.statSync(full);
      if (s.isDirectory()) walk(full, `${rel}${f}/`);
      // Names and sizes, plus each manifest's text (it holds the weights' sha256): no mtimes, so a copy of the same
      // lab hashes the same and a re-run whose active version is now the retrained model skips the export stage.
      else h.update(`${rel}${f}:${s.size}:${f === "manifest.json" ? fs.readFileSync(full, "utf8") : ""}\n`);
    }
  };
  walk(labDir, "");
  return h.digest("hex").slice(0, 16);
}

/** The lab to carry: the active version's `lab/` if it has one, else the shipped model's; undefined when neither. */
export async function findLabSource(db: Db, defaultModelDir = DEFAULT_MODEL_DIR): Promise<LabSource | undefined> {
  const active = await activeModelDir(db);
  for (const modelDir of [active, path.resolve(defaultModelDir)]) {
    if (!modelDir) continue;
    const lab = path.join(modelDir, "lab");
    if (!fs.existsSync(lab) || !fs.statSync(lab).isDirectory()) continue;
    const kinds = visible(lab).filter((k) => fs.existsSync(path.join(lab, k, "manifest.json")));
    if (!kinds.length) continue;
    return { modelDir, kinds, hash: labHash(lab) };
  }
  return undefined;
}

/** Replaces `<modelDir>/lab` by a copy of the source's lab; returns the log line. */
export function carryLab(source: LabSource | undefined, modelDir: string): string {
  if (!source)
    return "lab: no lab to carry (neither the active model nor models/default has lab/); /lab and the VAE tools stay off for this version";
  const from = path.join(source.modelDir, "lab");
  const to = path.join(modelDir, "lab");
  const shown = displayPath(source.modelDir);
  // Retraining the active version under its own name: its lab is already in place (saveCheckpoint keeps it).
  if (path.resolve(from) === path.resolve(to)) return `lab: kept ${source.kinds.join(", ")} (already in ${shown})`;
  const tmp = path.join(modelDir, `.lab.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    fs.mkdirSync(tmp, { recursive: true });
    for (const f of visible(from)) fs.cpSync(path.join(from, f), path.join(tmp, f), { recursive: true });
    fs.rmSync(to, { recursive: true, force: true });
    fs.renameSync(tmp, to);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`lab: cannot copy ${from} to ${to}: ${(err as Error).message}`);
  }
  return `lab: carried ${source.kinds.join(", ")} from ${shown}`;
}
