// What a page shows of user text: the characters that could disguise it become visible markers; the text itself,
// and the invisible characters visible text needs, stay as they are.
import { describe, expect, it } from "vitest";
import { shownText } from "./shown";

describe("shownText", () => {
  it("makes every bidi control visible, so a prompt cannot reorder itself", () => {
    expect(shownText("cat \u202Egnp.exe\u202C face")).toBe("cat [U+202E]gnp.exe[U+202C] face");
    // UAX #9: embeddings and overrides, isolates, and the implicit marks.
    const controls = "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C";
    expect(shownText(controls)).toBe(
      [...controls].map((c) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`).join(""),
    );
  });

  it("makes other invisible format characters visible: zero-width space, word joiner, BOM, soft hyphen, fillers, stray tags", () => {
    expect(shownText("pay\u200Bpal")).toBe("pay[U+200B]pal");
    expect(shownText("a\u2060b\uFEFFc\u00ADd")).toBe("a[U+2060]b[U+FEFF]c[U+00AD]d");
    expect(shownText("\u3164")).toBe("[U+3164]");
    expect(shownText("x\u{E0041}\u{E0042}y")).toBe("x[U+E0041][U+E0042]y");
  });

  it("leaves ordinary text and what visible text needs alone: joiners, variation selectors, flag tag sequences, RTL letters", () => {
    for (const text of [
      "red heart, twemoji",
      "👨\u200D👩\u200D👧",
      "\u2764\uFE0F",
      "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
      "می\u200Cخواهم",
      "שלום עולם",
      "\u0600\u0661",
      "tab\tand\nnewline",
    ])
      expect(shownText(text)).toBe(text);
  });
});
