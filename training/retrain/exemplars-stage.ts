// The retrain pipeline's "exemplars" stage: the model folder's exemplar bank (lib/generate/exemplar-folder.ts) from
// the run's train split, as `npm run exemplars` writes it for the shipped model, so the retrained model's ranking
// mixes the training pictures' vote with CLIP's score. An admin's folder has no supplementary styles: its core train
// split is its whole train split (../gpt/exemplar-bank.ts coreTrainSplit).
import { DEFAULT_NEIGHBOURS, DEFAULT_SIDE, DEFAULT_WEIGHT, writeExemplarBank, type ExemplarMix } from "../gpt/exemplar-bank";

/**
 * `npm run exemplars`'s mix for pictures of `imageSize`. Its side, 16, where it divides the size (every preset's
 * 32), else the largest divisor below it: the server shrinks each candidate to the bank's side by whole blocks.
 */
export function retrainExemplarMix(imageSize: number): ExemplarMix {
  let side = Math.min(DEFAULT_SIDE, imageSize);
  while (imageSize % side !== 0) side--;
  return { side, neighbours: DEFAULT_NEIGHBOURS, weight: DEFAULT_WEIGHT };
}

export async function exemplarsStage(
  modelDir: string,
  dataDir: string,
  mix: ExemplarMix,
  log: (line: string) => void,
): Promise<{ count: number }> {
  const chosen = "npm run retrain: npm run exemplars's mix (chosen on the emoji corpus's val prompts)";
  const { dir, count } = await writeExemplarBank(modelDir, dataDir, { ...mix, chosen });
  log(
    `exemplars: ${count} training pictures at ${mix.side}×${mix.side} in ${dir}; the vote of the ${mix.neighbours} nearest at weight ${mix.weight}`,
  );
  return { count };
}
