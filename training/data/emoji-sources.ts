// The emoji corpus's sources: CLDR labels and tags from emojibase-data, pictures from four Iconify emoji sets (the
// core styles) and, with --supplementary, two more drawn as training pictures only (emoji-splits.ts), joined by
// codepoint (lower-case hex, U+FE0F dropped), with a fallback on the icon's name when the set does not list the
// codepoint (the supplementary sets ship no chars.json, so they join on names alone). A codepoint match always
// wins over a name match.
import { createRequire } from "node:module";
import path from "node:path";

export interface EmojiStyle {
  style: "noto" | "twemoji" | "openmoji" | "fluent" | "emojione" | "blob";
  pkg: string;
  /**
   * A supplementary style adds training pictures only: val, test and the evals' prompts and retrieval pool stay on
   * the core styles, so a model trained with it is judged on the same yardstick as one trained without.
   */
  supplementary?: boolean;
}

export const EMOJI_STYLES: readonly EmojiStyle[] = [
  { style: "noto", pkg: "@iconify-json/noto" },
  { style: "twemoji", pkg: "@iconify-json/twemoji" },
  { style: "openmoji", pkg: "@iconify-json/openmoji" },
  { style: "fluent", pkg: "@iconify-json/fluent-emoji-flat" },
  // More pictures of the same labels in other hands: each label seen in more styles is less tied to any one of them.
  { style: "emojione", pkg: "@iconify-json/emojione", supplementary: true },
  // Noto's first, "blob" design.
  { style: "blob", pkg: "@iconify-json/noto-v1", supplementary: true },
];

export interface EmojiEntry {
  /** Normalised: lower-case hex code points joined by "-", U+FE0F removed. */
  hexcode: string;
  label: string;
  tags: string[];
  /** 1–5 for skin-tone variants (emojibase's `tone`), absent otherwise. */
  tone?: number;
}

interface EmojibaseRecord {
  label: string;
  hexcode: string;
  tags?: string[];
  tone?: number | number[];
  skins?: EmojibaseRecord[];
}

export interface IconifyIcon {
  body: string;
  width?: number;
  height?: number;
  left?: number;
  top?: number;
  hFlip?: boolean;
  vFlip?: boolean;
  rotate?: number;
}

export interface IconSet {
  prefix: string;
  width?: number;
  height?: number;
  icons: Record<string, IconifyIcon>;
  aliases?: Record<string, Partial<IconifyIcon> & { parent: string }>;
  /** codepoint hex → icon name, from the package's chars.json */
  chars: Record<string, string>;
  version: string;
  info: { license: { spdx: string; url?: string }; author: { name: string; url?: string } };
}

export function normaliseHexcode(hex: string): string {
  return hex
    .toLowerCase()
    .split(/[-_\s]+/)
    .filter((cp) => cp && cp !== "fe0f")
    .map((cp) => cp.replace(/^0+(?=[0-9a-f])/, ""))
    .join("-");
}

/** "Waving hand: light skin tone" → "waving-hand-light-skin-tone", the way Iconify names emoji icons. */
export function slugify(label: string): string {
  return label
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

/** Base emoji and their skin-tone variants (which inherit the base's tags). */
export function flattenEmojibase(records: EmojibaseRecord[]): EmojiEntry[] {
  const out: EmojiEntry[] = [];
  for (const r of records) {
    const tags = r.tags ?? [];
    out.push({ hexcode: normaliseHexcode(r.hexcode), label: r.label, tags });
    for (const s of r.skins ?? []) {
      const tone = Array.isArray(s.tone) ? s.tone[0] : s.tone;
      out.push({ hexcode: normaliseHexcode(s.hexcode), label: s.label, tags: [...tags, ...(s.tags ?? [])], ...(tone ? { tone } : {}) });
    }
  }
  return out;
}

/** An icon with aliases followed and the set's default box filled in; undefined if the name is unknown. */
export function resolveIcon(set: IconSet, name: string): Required<IconifyIcon> | undefined {
  const chain: Partial<IconifyIcon>[] = [];
  let current = name;
  for (let depth = 0; depth < 8; depth++) {
    const icon = set.icons[current];
    if (icon) {
      const merged = { ...icon, ...Object.assign({}, ...chain.reverse()) } as IconifyIcon;
      // Flips and rotations compose along an alias chain; an alias adds its own to the parent's.
      const hFlip = [icon, ...chain].filter((x) => x.hFlip).length % 2 === 1;
      const vFlip = [icon, ...chain].filter((x) => x.vFlip).length % 2 === 1;
      const rotate = [icon, ...chain].reduce((sum, x) => sum + (x.rotate ?? 0), 0) % 4;
      return {
        body: icon.body,
        width: merged.width ?? set.width ?? 16,
        height: merged.height ?? set.height ?? 16,
        left: merged.left ?? 0,
        top: merged.top ?? 0,
        hFlip,
        vFlip,
        rotate,
      };
    }
    const alias = set.aliases?.[current];
    if (!alias) return undefined;
    const { parent, ...rest } = alias;
    chain.push(rest);
    current = parent;
  }
  return undefined;
}

export interface EmojiMatch {
  entry: EmojiEntry;
  iconName: string;
  via: "codepoint" | "name";
}

/**
 * Joins emoji to one icon set. First every emoji whose codepoint the set lists; then, for emoji still without a
 * picture, an icon named like the emoji's label, unless a codepoint match already took that icon.
 */
export function joinIconSet(entries: EmojiEntry[], set: IconSet): EmojiMatch[] {
  const chars = new Map(Object.entries(set.chars).map(([hex, name]) => [normaliseHexcode(hex), name]));
  const matched = new Map<string, EmojiMatch>();
  const used = new Set<string>();
  for (const entry of entries) {
    const name = chars.get(entry.hexcode);
    if (name && resolveIcon(set, name) && !matched.has(entry.hexcode)) {
      matched.set(entry.hexcode, { entry, iconName: name, via: "codepoint" });
      used.add(name);
    }
  }
  for (const entry of entries) {
    if (matched.has(entry.hexcode)) continue;
    const name = slugify(entry.label);
    if (!used.has(name) && resolveIcon(set, name)) {
      matched.set(entry.hexcode, { entry, iconName: name, via: "name" });
      used.add(name);
    }
  }
  return entries.flatMap((e) => {
    const m = matched.get(e.hexcode);
    return m && m.entry === e ? [m] : [];
  });
}

const projectRequire = createRequire(path.join(process.cwd(), "package.json"));

function requirePackageFile<T>(pkg: string, file: string): T {
  try {
    return projectRequire(`${pkg}/${file}`) as T;
  } catch (err) {
    throw new Error(`cannot load ${pkg}/${file}: ${(err as Error).message.split("\n")[0]} — is the package installed? (npm install)`);
  }
}

function hasPackageFile(pkg: string, file: string): boolean {
  try {
    projectRequire.resolve(`${pkg}/${file}`);
    return true;
  } catch {
    return false;
  }
}

export function loadIconSet(pkg: string): IconSet {
  const icons = requirePackageFile<Omit<IconSet, "chars" | "version" | "info">>(pkg, "icons.json");
  // Some sets list no codepoints (no chars.json): they join on icon names alone.
  const chars = hasPackageFile(pkg, "chars.json") ? requirePackageFile<Record<string, string>>(pkg, "chars.json") : {};
  const info = requirePackageFile<IconSet["info"]>(pkg, "info.json");
  const { version } = requirePackageFile<{ version: string }>(pkg, "package.json");
  return { ...icons, chars, info, version };
}

export function loadEmojibase(): { entries: EmojiEntry[]; version: string } {
  const data = requirePackageFile<EmojibaseRecord[]>("emojibase-data", "en/data.json");
  const { version } = requirePackageFile<{ version: string }>("emojibase-data", "package.json");
  return { entries: flattenEmojibase(data), version };
}

/** A standalone SVG document for an icon, `size` pixels square, honouring the icon's box, flips and rotation. */
export function iconSvg(icon: Required<IconifyIcon>, size: number): string {
  const { left, top, width, height } = icon;
  const transforms: string[] = [];
  if (icon.hFlip || icon.vFlip) {
    transforms.push(`translate(${icon.hFlip ? 2 * left + width : 0} ${icon.vFlip ? 2 * top + height : 0})`, `scale(${icon.hFlip ? -1 : 1} ${icon.vFlip ? -1 : 1})`);
  }
  if (icon.rotate) transforms.push(`rotate(${icon.rotate * 90} ${left + width / 2} ${top + height / 2})`);
  const body = transforms.length ? `<g transform="${transforms.join(" ")}">${icon.body}</g>` : icon.body;
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}" viewBox="${left} ${top} ${width} ${height}">${body}</svg>`;
}
