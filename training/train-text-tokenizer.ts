// `npx tsx training/train-text-tokenizer.ts --data data/datasets/emoji --out models/text-tokenizer [--vocab-size 2048]`
// Learns a byte-pair encoding of the TRAIN captions and writes tokenizer.json + tokenizer_config.json (Hugging Face
// format, loaded at runtime by transformers.js) and text-vocab.json (the words seen, to flag unseen prompt words).
//
// Why the merges are learned here and not by the `tokenizers` package: its Node bindings expose only
// `Tokenizer.train(files)` with the default trainer (no vocabulary size, minimum frequency or end-of-word suffix),
// and special tokens added before training get ids that collide with the learned vocabulary (`<pad>` and "," both
// 0). Learning here also splits words with transformers.js's own normaliser and pre-tokeniser — the runtime's —
// where the Rust ones differ on non-ASCII text (`\w` is ASCII-only in the JS Whitespace pre-tokeniser).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PreTrainedTokenizer } from "@huggingface/transformers";
import { z } from "zod";
import { captionsFor, readCaptions } from "../lib/data/manifest";
import {
  END_OF_WORD,
  SPECIAL_TOKENS,
  TEXT_VOCAB_FILE,
  TextTokenizer,
  tokenizerConfigJSON,
  tokenizerJSON,
  wordSplitter,
  type TextVocab,
} from "../lib/text/tokenizer";
import { parseFlags, runMain } from "./cli";

export interface TrainTextTokenizerOptions {
  /** Upper bound on the vocabulary, special tokens and single characters included (default 2048). */
  vocabSize?: number;
  /** A pair must occur at least this often (counting caption occurrences) to become a merge (default 2). */
  minFrequency?: number;
}

export interface TrainTextTokenizerResult {
  vocabSize: number;
  alphabet: number;
  merges: number;
  /** Distinct words in the captions. */
  words: number;
  /** The longest caption in tokens: the least text context length that truncates nothing. */
  maxTokens: number;
}

/**
 * Adds the words of `captions` that the tokenizer has not seen to its text-vocab.json (the merges stay as they are:
 * any word still tokenises, from its letters up). For captions a run adds to an existing tokenizer, e.g. caption
 * variants, so the Create page does not flag their words as unseen.
 */
export function addSeenWords(dir: string, tok: TextTokenizer, captions: readonly string[]): number {
  const file = path.join(dir, TEXT_VOCAB_FILE);
  const vocab = JSON.parse(fs.readFileSync(file, "utf8")) as TextVocab;
  let added = 0;
  for (const c of captions) {
    for (const w of tok.encode(c, 1).unknownWords) {
      if (vocab.words[w] === undefined) added++;
      vocab.words[w] = (vocab.words[w] ?? 0) + 1;
    }
  }
  if (added) fs.writeFileSync(file, JSON.stringify(vocab, null, 2) + "\n");
  return added;
}

/** Classic BPE (Sennrich et al.): repeatedly fuse the most frequent adjacent pair of symbols within words. */
function learnMerges(wordCounts: Map<string, number>, budget: number, minFrequency: number) {
  // A word is its characters, the last one carrying the end-of-word suffix.
  const words = [...wordCounts].map(([w, count]) => {
    const syms = Array.from(w);
    syms[syms.length - 1] += END_OF_WORD;
    return { syms, count };
  });
  const alphabet = [...new Set(words.flatMap((w) => w.syms))].sort();
  const known = new Set(alphabet);
  const merges: [string, string][] = [];
  // Pair counts are kept up to date incrementally; `where` may list words that no longer hold a pair (harmless).
  const pairCounts = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  const key = (a: string, b: string) => `${a} ${b}`; // symbols never contain spaces (split on whitespace)
  const tally = (i: number, sign: 1 | -1) => {
    const { syms, count } = words[i];
    for (let j = 0; j + 1 < syms.length; j++) {
      const k = key(syms[j], syms[j + 1]);
      const c = (pairCounts.get(k) ?? 0) + sign * count;
      if (c > 0) pairCounts.set(k, c);
      else pairCounts.delete(k);
      if (sign > 0) (where.get(k) ?? where.set(k, new Set()).get(k)!).add(i);
    }
  };
  words.forEach((_, i) => tally(i, 1));
  while (known.size + SPECIAL_TOKENS.length < budget) {
    // Most frequent pair; ties go to the smaller key so training is deterministic.
    let best: string | null = null;
    let bestCount = 0;
    for (const [k, c] of pairCounts) if (c > bestCount || (c === bestCount && best !== null && k < best)) [best, bestCount] = [k, c];
    if (best === null || bestCount < minFrequency) break;
    const [a, b] = best.split(" ") as [string, string];
    merges.push([a, b]);
    known.add(a + b);
    for (const i of where.get(best) ?? []) {
      const { syms } = words[i];
      if (!syms.some((s, j) => s === a && syms[j + 1] === b)) continue;
      tally(i, -1);
      const out: string[] = [];
      for (let j = 0; j < syms.length; j++) {
        if (syms[j] === a && syms[j + 1] === b) (out.push(a + b), j++);
        else out.push(syms[j]);
      }
      words[i].syms = out;
      tally(i, 1);
    }
    where.delete(best);
    pairCounts.delete(best); // already zero; deleting also guarantees progress
  }
  return { alphabet, merges };
}

export async function trainTextTokenizer(
  captions: string[],
  outDir: string,
  options: TrainTextTokenizerOptions = {},
): Promise<TrainTextTokenizerResult> {
  const { vocabSize = 2048, minFrequency = 2 } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < SPECIAL_TOKENS.length + 1)
    throw new Error(`vocabSize must be an integer > ${SPECIAL_TOKENS.length}, got ${vocabSize}`);
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new Error(`minFrequency must be a positive integer, got ${minFrequency}`);

  // Words exactly as the runtime will see them: the pipeline of a tokenizer with no merges yet.
  const specialsOnly = Object.fromEntries(SPECIAL_TOKENS.map((t, i) => [t, i]));
  const split = wordSplitter(new PreTrainedTokenizer(tokenizerJSON(specialsOnly, []), tokenizerConfigJSON(1)));
  const wordCounts = new Map<string, number>();
  for (const caption of captions) for (const w of split(caption)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  if (wordCounts.size === 0) throw new Error("no words in the captions: nothing to train a tokenizer on");

  const { alphabet, merges } = learnMerges(wordCounts, vocabSize, minFrequency);
  if (alphabet.length + SPECIAL_TOKENS.length > vocabSize) {
    throw new Error(
      `vocabSize ${vocabSize} is below the ${alphabet.length} distinct symbols + ${SPECIAL_TOKENS.length} special tokens of these captions`,
    );
  }
  // Ids: specials 0..2, then the alphabet, then merged symbols in merge order (two merges may build the same string).
  const vocab: Record<string, number> = { ...specialsOnly };
  let next = SPECIAL_TOKENS.length;
  for (const t of [...alphabet, ...merges.map(([a, b]) => a + b)]) if (!(t in vocab)) vocab[t] = next++;

  const words: Record<string, number> = Object.fromEntries([...wordCounts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const tokJson = tokenizerJSON(vocab, merges);
  // Measure the result through the runtime class, which also proves the files load.
  const probe = TextTokenizer.fromJSON(tokJson, tokenizerConfigJSON(1), { words });
  // A loop, not Math.max(...): a spread of a few hundred thousand captions overflows the call stack.
  const maxTokens = captions.reduce((m, c) => Math.max(m, probe.countTokens(c)), 0);
  const textVocab: TextVocab = { version: 1, words, maxTokens, captions: captions.length };

  fs.mkdirSync(outDir, { recursive: true });
  const write = (f: string, v: unknown) => fs.writeFileSync(path.join(outDir, f), JSON.stringify(v, null, 1) + "\n");
  write("tokenizer.json", tokJson);
  // model_max_length records the longest training caption; the transformer's text context is chosen from it.
  write("tokenizer_config.json", tokenizerConfigJSON(maxTokens));
  write(TEXT_VOCAB_FILE, textVocab);
  return { vocabSize: next, alphabet: alphabet.length, merges: merges.length, words: wordCounts.size, maxTokens };
}

const USAGE =
  "usage: npx tsx training/train-text-tokenizer.ts --out DIR [--data data/datasets/emoji] [--vocab-size 2048] [--min-frequency 2]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  out: z.string({ error: "required: the folder to write the tokenizer into" }).min(1),
  vocabSize: z.coerce.number().int().min(4).default(2048),
  minFrequency: z.coerce.number().int().min(1).default(2),
});

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runMain("train-text-tokenizer", async () => {
    const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
    const captions = captionsFor(readCaptions(flags.data), "train").map((r) => r.caption);
    const t0 = performance.now();
    const r = await trainTextTokenizer(captions, flags.out, { vocabSize: flags.vocabSize, minFrequency: flags.minFrequency });
    console.log(
      `${captions.length} train captions, ${r.words} distinct words → vocabulary ${r.vocabSize} (${SPECIAL_TOKENS.length} special + ${r.alphabet} symbols + merges; ${r.merges} merges) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(`longest caption: ${r.maxTokens} tokens; wrote ${flags.out}/{tokenizer.json,tokenizer_config.json,${TEXT_VOCAB_FILE}}`);
  });
}
