// The text tokenizer in a page: ../text/text-tokenizer.ts's logic on @huggingface/tokenizers, the library
// transformers.js bundles for its own tokenizers, built from the model's fetched tokenizer.json. Not
// transformers.js itself: that would also download its own ONNX Runtime, which a page already has.
import { Tokenizer } from "@huggingface/tokenizers";
import { TextTokenizerCore, type TextVocab } from "../text/text-tokenizer";

/** From the three files' contents (tokenizer.json, tokenizer_config.json, text-vocab.json). */
export function browserTextTokenizer(tokenizerJson: object, tokenizerConfig: object, vocab: Pick<TextVocab, "words">): TextTokenizerCore {
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  return new TextTokenizerCore(
    {
      _tokenizer: tokenizer,
      get_vocab: () => tokenizer.get_vocab(),
      decode: (ids, options) => tokenizer.decode(ids, options),
    },
    new Set(Object.keys(vocab.words)),
  );
}
