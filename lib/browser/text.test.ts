// The page's tokenizer (@huggingface/tokenizers) against the server's (transformers.js) on the shipped models: the
// same ids, so a prompt conditions the browser's transformer exactly as the server's.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadTextTokenizer, TEXT_VOCAB_FILE } from "../text/tokenizer";
import { browserTextTokenizer } from "./text";

const PROMPTS = ["a red circle", "Waving hand: medium skin tone, twemoji", "", "  zebra!!  <null> ünïcode 🙂", "blue square on the left"];

describe("browserTextTokenizer", () => {
  for (const dir of ["models/default", "models/shapes"]) {
    it(`encodes as the server's tokenizer on ${dir}`, async () => {
      const server = await loadTextTokenizer(dir);
      const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as object;
      const page = browserTextTokenizer(
        read("tokenizer.json"),
        read("tokenizer_config.json"),
        read(TEXT_VOCAB_FILE) as { words: Record<string, number> },
      );
      expect(page.vocabSize).toBe(server.vocabSize);
      for (const p of PROMPTS) expect(page.encode(p, 24)).toEqual(server.encode(p, 24));
    });
  }
});
