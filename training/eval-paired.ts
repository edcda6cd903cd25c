// `npm run eval:paired -- <A.json> <B.json> [--json FILE]`: two `npm run eval:rerank --json` runs on the same
// prompts (the same --prompts and --seed; e.g. two models), compared prompt by prompt: for each set, the pictures
// served (the first CLIP's kept ones) and the first ones sampled, B − A on every measure with the standard error of
// the per-prompt differences. Each model samples its own candidates, so sampling noise stays in; what the pairing
// removes is the prompts' own difficulty, which two independent means carry twice.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parseArgs, runMain } from "./cli";
import { comparePaired, MEASURES } from "./gpt/paired";

const USAGE = "usage: npm run eval:paired -- <A.json> <B.json> [--json FILE]   (both written by npm run eval:rerank -- … --json)";

const ScoresJson = z.object({ exact1: z.number(), exact5: z.number(), family1: z.number(), family5: z.number() });
const SetJson = z.object({
  perPrompt: z.object({ captions: z.array(z.string()), off: z.array(ScoresJson), served: z.array(ScoresJson) }),
});
const RerankJson = z.object({
  model: z.string(),
  setting: z.object({ guidance: z.number(), temperature: z.number() }).passthrough(),
  seed: z.number(),
  sets: z.object({ heldout: SetJson, train: SetJson }),
});
type RerankJson = z.infer<typeof RerankJson>;

function read(file: string): RerankJson {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = RerankJson.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${file} is not an eval:rerank result with per-prompt scores (written by this version's --json): ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; ")}`,
    );
  return parsed.data;
}

runMain("eval:paired", async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), z.object({ json: z.string().optional() }).strict(), USAGE);
  if (positional.length !== 2) throw new Error(USAGE);
  const [a, b] = positional.map(read);
  const result = {
    a: { file: positional[0], model: a.model, setting: a.setting },
    b: { file: positional[1], model: b.model, setting: b.setting },
    sets: comparePaired(a, b),
  };
  const pct = (v: number) => (100 * v).toFixed(1);
  console.log(
    `A ${a.model} (s ${a.setting.guidance} T ${a.setting.temperature}) vs B ${b.model} (s ${b.setting.guidance} T ${b.setting.temperature})`,
  );
  for (const [set, r] of Object.entries(result.sets))
    for (const kind of ["served", "off"] as const) {
      const k = r[kind];
      console.log(
        `${set} ${kind} (${r.prompts} prompts): ${MEASURES.map((m) => `${m} ${pct(k.a[m])} → ${pct(k.b[m])} (${k.bMinusA[m].diff >= 0 ? "+" : ""}${pct(k.bMinusA[m].diff)} ± ${pct(k.bMinusA[m].se)})`).join(", ")}`,
      );
    }
  if (flags.json) {
    fs.mkdirSync(path.dirname(path.resolve(flags.json)), { recursive: true });
    fs.writeFileSync(flags.json, JSON.stringify(result, null, 2) + "\n");
    console.log(`wrote ${flags.json}`);
  }
});
