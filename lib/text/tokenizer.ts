// The text side of Tessera: captions → a fixed-length row of BPE token ids for the transformer, read through
// transformers.js from a standard `tokenizer.json` (trained by training/train-text-tokenizer.ts). Its logic is
// ./text-tokenizer.ts, which a page runs on @huggingface/tokenizers alone (lib/browser/text.ts); only
// `loadTextTokenizer` touches the disk (node:fs is imported dynamically there).
import { AutoTokenizer, PreTrainedTokenizer, env } from "@huggingface/transformers";
import { SPECIAL_TOKENS, END_OF_WORD, TEXT_VOCAB_FILE, TextTokenizerCore, type TextVocab } from "./text-tokenizer";

export * from "./text-tokenizer";

/** The text tokenizer on transformers.js (./text-tokenizer.ts has its logic). */
export class TextTokenizer extends TextTokenizerCore {
  declare readonly tokenizer: PreTrainedTokenizer;

  constructor(tokenizer: PreTrainedTokenizer, seenWords: ReadonlySet<string>) {
    super(tokenizer, seenWords);
  }

  /** From the three files' contents, e.g. fetched in a browser. */
  static fromJSON(tokenizerJson: object, tokenizerConfig: object, vocab: Pick<TextVocab, "words">): TextTokenizer {
    return new TextTokenizer(new PreTrainedTokenizer(tokenizerJson, tokenizerConfig), new Set(Object.keys(vocab.words)));
  }
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
