// The text side of Tessera: captions → a fixed-length row of BPE token ids for the transformer, read through
// transformers.js from a standard `tokenizer.json` (trained by training/train-text-tokenizer.ts). The class itself
// needs no file system, so a browser bundle can build it from fetched JSON with `TextTokenizer.fromJSON`; only
// `loadTextTokenizer` touches the disk (node:fs is imported dynamically there).
import { AutoTokenizer, PreTrainedTokenizer, env } from "@huggingface/transformers";

/** Fixed ids 0, 1, 2: the transformer pads with 0, and `<null>` is the empty caption for classifier-free guidance. */
export const SPECIAL_TOKENS = ["<pad>", "<unk>", "<null>"] as const;
/** Marks a word's last symbol, so decoding knows where spaces go ("red</w>" vs "red" inside "reddish"). */
export const END_OF_WORD = "</w>";
export const TEXT_VOCAB_FILE = "text-vocab.json";

/** The words seen in training; `text-vocab.json`. */
export interface TextVocab {
  version: 1;
  /** Word (lower-cased pre-token, punctuation runs included) → number of occurrences in the training captions. */
  words: Record<string, number>;
  /** The longest training caption, in tokens. */
  maxTokens: number;
  captions: number;
}

/**
 * The whole `tokenizer.json` (Hugging Face format, read by transformers.js and by the Rust `tokenizers`): NFKC +
 * lower-case, split on whitespace then isolate runs of punctuation ("skin tone, noto" → skin│tone│,│noto), then BPE
 * with an end-of-word suffix. Kept here so the trainer splits words exactly as the runtime does.
 */
export function tokenizerJSON(vocab: Record<string, number>, merges: [string, string][]): object {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Lowercase" }] },
    // "Contiguous" is how the Rust library spells what transformers.js always does: one piece per punctuation run.
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Punctuation", behavior: "Contiguous" }] },
    post_processor: null,
    decoder: { type: "BPEDecoder", suffix: END_OF_WORD },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: END_OF_WORD,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

export function tokenizerConfigJSON(modelMaxLength: number): object {
  return {
    tokenizer_class: "PreTrainedTokenizer",
    model_max_length: modelMaxLength,
    pad_token: "<pad>",
    unk_token: "<unk>",
    // No BOS/EOS: a caption is just its tokens; the transformer adds its own start-of-image token.
    add_bos_token: false,
    add_eos_token: false,
    // Decoding keeps one space between pieces ("hand : medium"); no English-specific clean-up.
    clean_up_tokenization_spaces: false,
  };
}

// The pieces of transformers.js's tokenizer this class drives directly: encoding word by word (instead of
// `tokenizer.encode`) keeps a typed "<null>" in a prompt from turning into the special token, and yields the words.
interface Pipeline {
  normalizer: { normalize(text: string): string } | null;
  pre_tokenizer: { pre_tokenize(text: string): string[] } | null;
  model: { encode(words: string[]): string[]; tokens_to_ids: Map<string, number> };
}

/** Splits text into lower-cased words exactly as the tokenizer does (also used by the trainer). */
export function wordSplitter(tokenizer: PreTrainedTokenizer): (text: string) => string[] {
  const p = tokenizer._tokenizer as unknown as Pipeline;
  if (!p?.normalizer || !p.pre_tokenizer || !p.model?.tokens_to_ids)
    throw new Error("unexpected transformers.js tokenizer internals (no normalizer, pre-tokenizer or model)");
  return (text) => p.pre_tokenizer!.pre_tokenize(p.normalizer!.normalize(text)).filter((w) => w.length > 0);
}

export interface EncodedText {
  /** Exactly `length` ids, right-padded with padId. */
  ids: number[];
  /** Real tokens before padding/truncation (the empty caption counts its `<null>`). */
  tokens: number;
  truncated: boolean;
  /** Words of the prompt never seen in the training captions (lower-cased, each once). */
  unknownWords: string[];
}

export class TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly nullId: number;
  private readonly split: (text: string) => string[];
  private readonly model: Pipeline["model"];

  constructor(
    readonly tokenizer: PreTrainedTokenizer,
    readonly seenWords: ReadonlySet<string>,
  ) {
    this.split = wordSplitter(tokenizer);
    this.model = (tokenizer._tokenizer as unknown as Pipeline).model;
    this.vocabSize = tokenizer.get_vocab().size;
    const id = (t: string) => {
      const i = this.model.tokens_to_ids.get(t);
      if (i === undefined) throw new Error(`tokenizer has no ${t} token (retrain it with training/train-text-tokenizer.ts)`);
      return i;
    };
    [this.padId, this.unkId, this.nullId] = SPECIAL_TOKENS.map(id);
  }

  /** From the three files' contents, e.g. fetched in a browser. */
  static fromJSON(tokenizerJson: object, tokenizerConfig: object, vocab: Pick<TextVocab, "words">): TextTokenizer {
    return new TextTokenizer(new PreTrainedTokenizer(tokenizerJson, tokenizerConfig), new Set(Object.keys(vocab.words)));
  }

  /** Ids without padding: BPE tokens of each word; `<unk>` for symbols never seen in training. */
  private idsOf(words: string[]): number[] {
    return this.model.encode(words).map((t) => this.model.tokens_to_ids.get(t) ?? this.unkId);
  }

  encode(text: string, length: number): EncodedText {
    if (!Number.isInteger(length) || length < 1) throw new Error(`encode: length must be a positive integer, got ${length}`);
    const words = this.split(text);
    const ids = words.length === 0 ? [this.nullId] : this.idsOf(words);
    const unknownWords = [...new Set(words.filter((w) => !this.seenWords.has(w)))];
    const out = ids.slice(0, length);
    while (out.length < length) out.push(this.padId);
    return { ids: out, tokens: ids.length, truncated: ids.length > length, unknownWords };
  }

  encodeNull(length: number): number[] {
    return this.encode("", length).ids;
  }

  /** Pieces joined by single spaces ("waving hand : medium skin tone , twemoji"); pad and `<null>` are dropped. */
  decode(ids: number[]): string {
    for (const i of ids)
      if (!Number.isInteger(i) || i < 0 || i >= this.vocabSize) throw new RangeError(`decode: id ${i} outside [0, ${this.vocabSize})`);
    const kept = ids.filter((i) => i !== this.padId && i !== this.nullId);
    return kept.length === 0 ? "" : this.tokenizer.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  countTokens(text: string): number {
    return this.idsOf(this.split(text)).length;
  }
}

/** Captions encoded to `textLen` ids each, back to back ([count · textLen]), and how many were truncated. */
export function tokeniseCaptions(tok: TextTokenizer, captions: readonly string[], textLen: number): { ids: Int32Array; truncated: number } {
  const ids = new Int32Array(captions.length * textLen);
  let truncated = 0;
  captions.forEach((caption, i) => {
    const e = tok.encode(caption, textLen);
    if (e.truncated) truncated++;
    ids.set(e.ids, i * textLen);
  });
  return { ids, truncated };
}

/** Loads `tokenizer.json`, `tokenizer_config.json` and `text-vocab.json` from a folder (Node only). */
export async function loadTextTokenizer(dir: string): Promise<TextTokenizer> {
  const fs = await import("node:fs");
  const path = await import("node:path");
  const hint = "train one with `npx tsx training/train-text-tokenizer.ts --data data/datasets/emoji --out <dir>`";
  // turbopackIgnore: the folder is only known at run time; without it Next traces the whole project into the build.
  const abs = path.resolve(/*turbopackIgnore: true*/ dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new Error(`no tokenizer folder ${dir}; ${hint}`);
  for (const f of ["tokenizer.json", "tokenizer_config.json", TEXT_VOCAB_FILE]) {
    if (!fs.existsSync(path.join(/*turbopackIgnore: true*/ abs, f))) throw new Error(`no ${f} in ${dir}; ${hint}`);
  }
  const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(/*turbopackIgnore: true*/ abs, f), "utf8"));
  const vocab = read(TEXT_VOCAB_FILE) as TextVocab;
  if (vocab?.version !== 1 || typeof vocab.words !== "object")
    throw new Error(`${path.join(dir, TEXT_VOCAB_FILE)} is not a text vocabulary (version 1); ${hint}`);
  const name = path.basename(abs);
  // transformers.js only treats names shaped like a Hub model id as local folders; read any other folder directly.
  if (!/^[\w.-]{1,96}$/.test(name) || name.includes("..") || name.includes("--")) {
    return TextTokenizer.fromJSON(read("tokenizer.json") as object, read("tokenizer_config.json") as object, vocab);
  }
  // Local files only: it reads `<localModelPath>/<name>/tokenizer.json`. Its file-existence check is memoised by
  // name, which is why the files are checked above before it is asked.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(abs) + path.sep;
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  return new TextTokenizer(tokenizer, new Set(Object.keys(vocab.words)));
}
