import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tokenizers from "tokenizers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainTextTokenizer, type TrainTextTokenizerResult } from "../../training/train-text-tokenizer";
import { loadTextTokenizer, type TextTokenizer } from "./tokenizer";

const LABELS = [
  "grinning face",
  "red heart",
  "red circle",
  "blue circle",
  "green apple",
  "red apple",
  "waving hand: medium skin tone",
  "thumbs up: light skin tone",
  "thumbs down: dark skin tone",
  "smiling face with heart-eyes",
  "face with tears of joy",
  "woman’s hat",
  "man technologist: medium-dark skin tone",
  "yellow heart",
  "blue heart",
  "sun with face",
  "crescent moon",
  "star",
  "glowing star",
  "cat face",
  "dog face",
  "grinning cat",
  "party popper",
  "birthday cake",
];
const STYLES = ["noto", "twemoji"];
// 48 captions like the emoji set's: "<label>, <style>"
const CAPTIONS = LABELS.flatMap((l) => STYLES.map((s) => `${l}, ${s}`));

/** What decode returns for a text: lower-cased, one space between words and around each punctuation run. */
const canonical = (s: string) =>
  s
    .normalize("NFKC")
    .toLowerCase()
    .replace(/(\p{P}+)/gu, " $1 ")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");

let root: string;
let dir: string;
let trained: TrainTextTokenizerResult;
let tok: TextTokenizer;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-texttok-"));
  dir = path.join(root, "tok");
  trained = await trainTextTokenizer(CAPTIONS, dir, { vocabSize: 160, minFrequency: 2 });
  tok = await loadTextTokenizer(dir);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("text tokenizer", () => {
  it("writes the three files, with <pad> <unk> <null> at ids 0 1 2 and the vocabulary within the requested size", () => {
    for (const f of ["tokenizer.json", "tokenizer_config.json", "text-vocab.json"]) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    expect([tok.padId, tok.unkId, tok.nullId]).toEqual([0, 1, 2]);
    expect(tok.tokenizer.convert_tokens_to_ids(["<pad>", "<unk>", "<null>"])).toEqual([0, 1, 2]);
    expect(tok.vocabSize).toBe(trained.vocabSize);
    expect(tok.vocabSize).toBeLessThanOrEqual(160);
    expect(trained.merges).toBeGreaterThan(0);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    expect(config).toMatchObject({ pad_token: "<pad>", unk_token: "<unk>", model_max_length: trained.maxTokens });
  });

  it("round-trips every caption: decode(encode(x)) is x lower-cased with one space between words and punctuation", () => {
    expect(canonical("Waving hand:  medium-dark skin tone,twemoji")).toBe("waving hand : medium - dark skin tone , twemoji");
    for (const c of [...CAPTIONS, "red cat, blue moon", "Glowing heart: noto"]) {
      const e = tok.encode(c, 32);
      expect(e.truncated).toBe(false);
      expect(e.ids.slice(0, e.tokens)).not.toContain(tok.unkId);
      expect(tok.decode(e.ids)).toBe(canonical(c));
    }
    expect(tok.decode(tok.encode("waving hand: medium skin tone, twemoji", 16).ids)).toBe("waving hand : medium skin tone , twemoji");
  });

  it("agrees with transformers.js's own encode, and the Rust `tokenizers` reads the same file to the same ids", async () => {
    const rust = tokenizers.Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
    for (const c of CAPTIONS.slice(0, 12)) {
      const ids = tok.encode(c, 32);
      const real = ids.ids.slice(0, ids.tokens);
      expect(tok.tokenizer.encode(c, { add_special_tokens: false })).toEqual(real);
      expect((await rust.encode(c)).getIds()).toEqual(real);
    }
  });

  it("keeps every id in [0, vocabSize) and pads to exactly the requested length with padId", () => {
    for (const length of [1, 5, 12, 40]) {
      const e = tok.encode("party popper, noto", length);
      expect(e.ids).toHaveLength(length);
      for (const id of e.ids) expect(id >= 0 && id < tok.vocabSize && Number.isInteger(id)).toBe(true);
      if (length > e.tokens) expect(e.ids.slice(e.tokens)).toEqual(new Array(length - e.tokens).fill(tok.padId));
    }
    expect(() => tok.encode("star", 0)).toThrow(/positive integer/);
    expect(() => tok.decode([tok.vocabSize])).toThrow(RangeError);
  });

  it("truncates a caption longer than the length, keeping its first tokens", () => {
    const long = CAPTIONS.join(" ");
    const full = tok.encode(long, 1000);
    expect(full.truncated).toBe(false);
    expect(full.tokens).toBe(tok.countTokens(long));
    const cut = tok.encode(long, 8);
    expect(cut).toMatchObject({ tokens: full.tokens, truncated: true });
    expect(cut.ids).toEqual(full.ids.slice(0, 8));
    expect(tok.encode("star", 1)).toMatchObject({ tokens: 1, truncated: false });
  });

  it("encodes an empty or blank prompt as the <null> caption", () => {
    for (const blank of ["", "   ", "\n\t "]) {
      expect(tok.encode(blank, 4)).toEqual({ ids: [tok.nullId, 0, 0, 0], tokens: 1, truncated: false, unknownWords: [] });
    }
    expect(tok.encodeNull(3)).toEqual([2, 0, 0]);
    expect(tok.decode(tok.encodeNull(3))).toBe("");
    expect(tok.countTokens("")).toBe(0);
  });

  it("reports words never seen in training (once each), and not the known ones", () => {
    expect(tok.encode("red heart, noto", 16).unknownWords).toEqual([]);
    expect(tok.encode("Zebra heart, zebra", 16).unknownWords).toEqual(["zebra"]);
    // A character never seen at all becomes <unk> (and decodes as such) rather than failing.
    const e = tok.encode("red € heart", 16);
    expect(e.unknownWords).toEqual(["€"]);
    expect(e.ids.slice(0, e.tokens)).toContain(tok.unkId);
    // Typing a special token's text is just punctuation and letters, not the token.
    expect(tok.encode("<null>", 8).ids).not.toContain(tok.nullId);
  });

  it("is case-insensitive", () => {
    expect(tok.encode("Red Heart, NOTO", 16)).toEqual(tok.encode("red heart, noto", 16));
    expect(tok.countTokens("GRINNING Face")).toBe(tok.countTokens("grinning face"));
  });

  it("trains deterministically, caps the vocabulary and refuses a size below the alphabet", async () => {
    const again = path.join(root, "again");
    await trainTextTokenizer(CAPTIONS, again, { vocabSize: 160, minFrequency: 2 });
    expect(fs.readFileSync(path.join(again, "tokenizer.json"), "utf8")).toBe(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
    const small = await trainTextTokenizer(CAPTIONS, path.join(root, "small"), { vocabSize: 3 + trained.alphabet + 5 });
    expect(small.vocabSize).toBe(3 + trained.alphabet + 5);
    await expect(trainTextTokenizer(CAPTIONS, path.join(root, "tiny"), { vocabSize: 10 })).rejects.toThrow(
      /below the \d+ distinct symbols/,
    );
  });

  it("trains on a corpus of 300,000 captions (the shapes set with its variants) and records the longest", async () => {
    const many = Array.from({ length: 300_000 }, (_, i) => CAPTIONS[i % CAPTIONS.length]);
    many[123_456] = CAPTIONS.join(" ");
    const r = await trainTextTokenizer(many, path.join(root, "many"), { vocabSize: 160 });
    const tok = await loadTextTokenizer(path.join(root, "many"));
    expect(r.maxTokens).toBe(tok.countTokens(many[123_456]));
    expect(r.maxTokens).toBeGreaterThan(Math.max(...CAPTIONS.map((c) => tok.countTokens(c))));
  }, 120_000);

  it("says how to get a tokenizer when the folder or a file is missing", async () => {
    await expect(loadTextTokenizer(path.join(root, "nope"))).rejects.toThrow(
      /no tokenizer folder .*nope; train one with .*train-text-tokenizer/,
    );
    const partial = path.join(root, "partial");
    fs.mkdirSync(partial);
    fs.copyFileSync(path.join(dir, "tokenizer_config.json"), path.join(partial, "tokenizer_config.json"));
    await expect(loadTextTokenizer(partial)).rejects.toThrow(/no tokenizer.json in .*partial; train one with/);
    // A folder name transformers.js would not take for a local model id is read directly instead.
    const odd = path.join(root, "my tokenizer");
    fs.cpSync(dir, odd, { recursive: true });
    expect((await loadTextTokenizer(odd)).encode("red heart, noto", 8)).toEqual(tok.encode("red heart, noto", 8));
  });
});
