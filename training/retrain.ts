// `npm run retrain -- [--data <folder>] [--preset tiny|default|large] [--name NAME] [--reuse-tokenizer]
//   [--minutes-vq M] [--minutes-gpt M] [--minutes-clip M] [--activate] [--denoise [--denoiser DIR]]`
// One command from data to a new model version; re-running it skips the stages whose inputs did not change and
// resumes an interrupted training stage. Logs to runs/retrain/<name>/retrain.log as well as the terminal.
// Besides the image tokenizer and the transformer it trains a CLIP on the same data (--minutes-clip; default preset
// 20 minutes) and writes an exemplar bank of the training pictures (seconds), so the new model reranks its
// candidates as the shipped one does.
// --denoise cleans the admin's uploads with the lab's denoising autoencoder before training (a before/after sheet
// goes to runs/retrain/<name>/denoise.png); --denoiser picks the DAE folder (default: the active model's lab/dae).
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { createDb } from "../lib/db/client";
import { migrate } from "../lib/db/migrate";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { flag, parseFlags, runMain } from "./cli";
import { retrain } from "./retrain/pipeline";
import { PRESETS } from "./retrain/presets";

/** A stage's budget as the usage says it: minutes, or the step cap when the preset has no time budget (tiny). */
const budget = (s: { minutes: number; steps: number }) => (s.minutes > 0 ? `${s.minutes} min` : `${s.steps} steps`);
const USAGE = [
  "usage: npm run retrain -- [--data FOLDER] [--preset tiny|default|large] [--name NAME] [--reuse-tokenizer] [--minutes-vq M] [--minutes-gpt M] [--minutes-clip M] [--activate] [--denoise [--denoiser DIR]]",
  "stages: data, image tokenizer, text tokenizer, codes, transformer, clip (the CLIP that reranks candidates), export,",
  "exemplars (the training pictures whose vote the ranking mixes in; seconds), evaluate, register.",
  `budgets, image tokenizer + transformer + CLIP: ${Object.entries(PRESETS)
    .map(([name, p]) => `${name} ${[p.vq, p.gpt, p.clip].map(budget).join(" + ")}`)
    .join("; ")}.`,
].join("\n");
const Flags = z.object({
  data: z.string().optional(),
  preset: z.enum(["tiny", "default", "large"]).default("default"),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, "use letters, digits, '.', '_' and '-'")
    .default(`retrain-${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "")}`),
  reuseTokenizer: flag(),
  minutesVq: z.coerce.number().positive().optional(),
  minutesGpt: z.coerce.number().positive().optional(),
  minutesClip: z.coerce.number().positive().optional(),
  activate: flag(),
  denoise: flag(),
  denoiser: z.string().min(1, "a DAE checkpoint folder (e.g. models/default/lab/dae)").optional(),
  runsDir: z.string().default(path.join("runs", "retrain")),
  modelsDir: z.string().default("models"),
});

runMain("retrain", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  const logFile = path.join(flags.runsDir, flags.name, "retrain.log");
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = (line: string) => {
    console.log(line);
    fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
  };
  log(
    `retrain ${flags.name}: preset ${flags.preset}, data ${flags.data ?? "emoji corpus"}${flags.denoise ? ", denoised" : ""}; log in ${logFile}`,
  );
  await initBackend();
  registerFastGradients();
  await migrate(process.env.DATABASE_URL);
  const db = createDb(process.env.DATABASE_URL);
  try {
    const r = await retrain({ ...flags, db, log });
    log(`done: ${r.modelDir}; metrics ${JSON.stringify(r.metrics)}${r.skipped.length ? `; skipped ${r.skipped.join(", ")}` : ""}`);
  } finally {
    await db.$disconnect();
  }
});
