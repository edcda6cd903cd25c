// User text (prompts, a gallery search) as the pages show it. It is stored as typed, and the API returns it as
// typed; on a page, characters that are invisible yet change what the rest looks like are shown as a visible
// marker instead: the bidi controls (UAX #9 embeddings, overrides, isolates and marks, so `cat \u202Egnp.exe\u202C`
// cannot show as `cat exe.png`) and the other format and default-ignorable characters (zero-width spaces, word
// joiners, BOMs, soft hyphens, Hangul fillers, invisible operators, tag characters), which can hide text or make
// two prompts look alike. This file imports nothing, so client components may use it too.

// Kept as they are, because visible text needs them: the joiners (ZWNJ/ZWJ: Persian and Indic shaping, emoji
// sequences), variation selectors (emoji and text presentation, CJK variants), and the prepended concatenation
// marks (U+0600–U+0605…), which are format characters with a glyph of their own.
const KEEP = /^[\u200c\u200d\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}\p{Variation_Selector}]$/u;
// An emoji tag sequence (the flags of England, Scotland, Wales: a black flag, tag letters, a cancel tag) is kept
// whole; tag characters anywhere else are hidden text.
const HIDDEN = /\u{1f3f4}[\u{e0020}-\u{e007e}]+\u{e007f}|[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;

/** The marker shown for one hidden character, e.g. `[U+202E]`. */
export const marker = (c: string) => `[U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`;

/** Text as a page shows it: every invisible character that could disguise it replaced by its marker. */
export function shownText(text: string): string {
  return text.replace(HIDDEN, (c) => (c.length > 2 /* a whole tag sequence */ || KEEP.test(c) ? c : marker(c)));
}
