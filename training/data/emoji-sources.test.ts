import { describe, expect, it } from "vitest";
import {
  EMOJI_STYLES,
  flattenEmojibase,
  iconSvg,
  joinIconSet,
  loadIconSet,
  normaliseHexcode,
  resolveIcon,
  slugify,
  type EmojiEntry,
  type IconSet,
} from "./emoji-sources";

const set = (over: Partial<IconSet>): IconSet => ({
  prefix: "test",
  width: 32,
  height: 32,
  icons: {},
  aliases: {},
  chars: {},
  version: "0",
  info: { license: { spdx: "MIT" }, author: { name: "test" } },
  ...over,
});
const entry = (hexcode: string, label: string): EmojiEntry => ({ hexcode: normaliseHexcode(hexcode), label, tags: [] });

describe("codepoint normalisation", () => {
  it("lower-cases, drops U+FE0F and leading zeros, joins with -", () => {
    expect(normaliseHexcode("1F44B-1F3FB")).toBe("1f44b-1f3fb");
    expect(normaliseHexcode("2764-FE0F")).toBe("2764");
    expect(normaliseHexcode("0023-FE0F-20E3")).toBe("23-20e3");
    expect(normaliseHexcode("1F3F3-FE0F-200D-1F308")).toBe("1f3f3-200d-1f308");
  });
  it("slugs labels the way Iconify names icons", () => {
    expect(slugify("waving hand: light skin tone")).toBe("waving-hand-light-skin-tone");
    expect(slugify("flag: Côte d’Ivoire")).toBe("flag-cote-d-ivoire");
  });
});

describe("emojibase flattening", () => {
  it("adds skin-tone variants with the base's tags and their tone", () => {
    const flat = flattenEmojibase([
      { label: "waving hand", hexcode: "1F44B", tags: ["hello"], skins: [{ label: "waving hand: dark skin tone", hexcode: "1F44B-1F3FF", tone: 5 }] },
    ]);
    expect(flat).toEqual([
      { hexcode: "1f44b", label: "waving hand", tags: ["hello"] },
      { hexcode: "1f44b-1f3ff", label: "waving hand: dark skin tone", tags: ["hello"], tone: 5 },
    ]);
  });
});

describe("joining emoji to an icon set", () => {
  it("matches by codepoint, ignoring FE0F on either side", () => {
    const s = set({ icons: { heart: { body: "<path/>" } }, chars: { "2764-fe0f": "heart" } });
    const m = joinIconSet([entry("2764-FE0F", "red heart")], s);
    expect(m).toEqual([{ entry: entry("2764", "red heart"), iconName: "heart", via: "codepoint" }]);
  });

  it("falls back to the icon named like the label", () => {
    const s = set({ icons: { "red-heart": { body: "<path/>" } } });
    expect(joinIconSet([entry("2764", "red heart")], s)[0]).toMatchObject({ iconName: "red-heart", via: "name" });
  });

  it("lets a codepoint match win over a name match", () => {
    // "grinning-face" is listed for 1f600 (grinning face) but is also the slug of another entry's label.
    const s = set({
      icons: { "grinning-face": { body: "<a/>" }, "grinning-face-2": { body: "<b/>" } },
      chars: { "1f600": "grinning-face", "1f601": "grinning-face-2" },
    });
    const entries = [entry("1F999", "grinning face"), entry("1F600", "big grin"), entry("1F601", "other")];
    const m = joinIconSet(entries, s);
    expect(m.map((x) => [x.entry.label, x.iconName, x.via])).toEqual([
      ["big grin", "grinning-face", "codepoint"],
      ["other", "grinning-face-2", "codepoint"],
    ]);
  });

  it("follows aliases and applies the set's default box", () => {
    const s = set({ icons: { base: { body: "<p/>", width: 36 } }, aliases: { alias: { parent: "base", hFlip: true } } });
    expect(resolveIcon(s, "alias")).toEqual({ body: "<p/>", width: 36, height: 32, left: 0, top: 0, hFlip: true, vFlip: false, rotate: 0 });
    expect(resolveIcon(s, "missing")).toBeUndefined();
    expect(iconSvg(resolveIcon(s, "alias")!, 64)).toMatch(/viewBox="0 0 36 32".*scale\(-1 1\)/);
  });

  it("joins most of the real noto set by codepoint", () => {
    const noto = loadIconSet(EMOJI_STYLES[0].pkg);
    const m = joinIconSet(flattenEmojibase([{ label: "grinning face", hexcode: "1F600" }, { label: "red heart", hexcode: "2764-FE0F" }]), noto);
    expect(m.map((x) => x.via)).toEqual(["codepoint", "codepoint"]);
  });

  it("says which package is missing", () => {
    expect(() => loadIconSet("@iconify-json/not-installed")).toThrow(/cannot load @iconify-json\/not-installed\/icons.json.*npm install/);
  });
});
