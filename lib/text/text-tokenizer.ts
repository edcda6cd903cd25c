// The text tokenizer's logic with no package behind it: a TextTokenizerCore drives any tokenizer shaped like
// transformers.js's PreTrainedTokenizer (its `_tokenizer` pipeline is @huggingface/tokenizers' Tokenizer). The
// server's ./tokenizer.ts wraps transformers.js; a page wraps @huggingface/tokenizers directly (lib/browser/
// text.ts), the library transformers.js bundles, so the browser encodes a prompt to the server's ids without
// loading transformers.js and its own ONNX Runtime.

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

/** What TextTokenizerCore uses of a tokenizer: transformers.js's PreTrainedTokenizer has all of it. */
export interface TokenizerLike {
  /** The pipeline (normalizer, pre-tokenizer, model); see Pipeline. */
  _tokenizer: unknown;
  get_vocab(): { size: number };
  decode(ids: number[], options: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
}

// The pieces of transformers.js's tokenizer this class drives directly: encoding word by word (instead of
// `tokenizer.encode`) keeps a typed "<null>" in a prompt from turning into the special token, and yields the words.
interface Pipeline {
  normalizer: { normalize(text: string): string } | null;
  pre_tokenizer: { pre_tokenize(text: string): string[] } | null;
  model: { encode(words: string[]): string[]; tokens_to_ids: Map<string, number> };
}

/** Splits text into lower-cased words exactly as the tokenizer does (also used by the trainer). */
export function wordSplitter(tokenizer: TokenizerLike): (text: string) => string[] {
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

export class TextTokenizerCore {
  readonly vocabSize: number;
  readonly padId: number;
  readonly unkId: number;
  readonly nullId: number;
  private readonly split: (text: string) => string[];
  private readonly model: Pipeline["model"];

  constructor(
    readonly tokenizer: TokenizerLike,
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
export function tokeniseCaptions(
  tok: TextTokenizerCore,
  captions: readonly string[],
  textLen: number,
): { ids: Int32Array; truncated: number } {
  const ids = new Int32Array(captions.length * textLen);
  let truncated = 0;
  captions.forEach((caption, i) => {
    const e = tok.encode(caption, textLen);
    if (e.truncated) truncated++;
    ids.set(e.ids, i * textLen);
  });
  return { ids, truncated };
}
