// Builds the emoji corpus: every emoji that emojibase labels and an Iconify set draws, rasterised with sharp on
// white at each requested size, split by the rule in emoji-splits.ts, written as shards + captions + manifest.
import sharp from "sharp";
import { Progress, mapLimit } from "../progress";
import { EMOJI_SPLIT_RULE_TEXT, splitEmoji, type EmojiSplitRule } from "./emoji-splits";
import { EMOJI_STYLES, iconSvg, joinIconSet, loadEmojibase, loadIconSet, resolveIcon, type EmojiMatch, type EmojiStyle } from "./emoji-sources";
import { writeDataset, type DatasetItem } from "./write-dataset";
import type { DatasetManifest } from "../../lib/data/manifest";

export interface EmojiBuildOptions {
  outDir: string;
  sizes: number[];
  split: EmojiSplitRule;
  concurrency: number;
  /** Also draw the supplementary styles (training pictures only; emoji-sources.ts). */
  supplementary?: boolean;
  /** Only the first N emoji of each set (for quick tests). */
  limitPerSet?: number;
  log?: (line: string) => void;
}

export interface Job {
  style: EmojiStyle;
  match: EmojiMatch;
  svg: string;
}

/** Rasterises one SVG at the largest size (composited on white), then downsamples for the smaller sizes. */
export async function rasterise(svg: string, sizes: number[]): Promise<Map<number, Uint8Array>> {
  const largest = Math.max(...sizes);
  const big = await sharp(Buffer.from(svg)).resize(largest, largest, { fit: "contain", background: "#ffffff" }).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer();
  if (big.length !== largest * largest * 3) throw new Error(`rasterised to ${big.length} bytes, expected ${largest}×${largest}×3`);
  const out = new Map<number, Uint8Array>([[largest, new Uint8Array(big)]]);
  for (const size of sizes) {
    if (size === largest) continue;
    const small = await sharp(big, { raw: { width: largest, height: largest, channels: 3 } }).resize(size, size, { kernel: "lanczos3" }).raw().toBuffer();
    out.set(size, new Uint8Array(small));
  }
  return out;
}

export interface Skipped {
  style: string;
  icon: string;
  error: string;
}

/**
 * Rasterises every job with bounded concurrency. An SVG that fails to render is skipped and reported, never fatal:
 * one bad icon must not cost the whole corpus.
 */
export async function rasteriseAll(jobs: Job[], sizes: number[], concurrency: number): Promise<{ rasters: (Map<number, Uint8Array> | undefined)[]; skipped: Skipped[] }> {
  const progress = new Progress("rasterise", jobs.length);
  const skipped: Skipped[] = [];
  const rasters = await mapLimit(jobs, concurrency, async (job) => {
    try {
      return await rasterise(job.svg, sizes);
    } catch (err) {
      skipped.push({ style: job.style.style, icon: job.match.iconName, error: (err as Error).message.split("\n")[0] });
      return undefined;
    } finally {
      progress.tick();
    }
  });
  progress.finish(skipped.length ? `(${skipped.length} skipped)` : "");
  return { rasters, skipped };
}

export async function buildEmoji(options: EmojiBuildOptions): Promise<DatasetManifest> {
  const log = options.log ?? ((line: string) => console.log(line));
  const emojibase = loadEmojibase();
  log(`emojibase-data ${emojibase.version}: ${emojibase.entries.length} emoji (skin tones included)`);

  const jobs: Job[] = [];
  const sources: DatasetManifest["sources"] = [];
  const perSet: Record<string, { codepoint: number; name: number; rendered: number; skipped: number }> = {};
  const styles = EMOJI_STYLES.filter((s) => options.supplementary || !s.supplementary);
  const sets = styles.map((style) => ({ style, set: loadIconSet(style.pkg) }));
  for (const { style, set } of sets) {
    let matches = joinIconSet(emojibase.entries, set);
    if (options.limitPerSet) matches = matches.slice(0, options.limitPerSet);
    perSet[style.style] = {
      codepoint: matches.filter((m) => m.via === "codepoint").length,
      name: matches.filter((m) => m.via === "name").length,
      rendered: 0,
      skipped: 0,
    };
    for (const match of matches) jobs.push({ style, match, svg: iconSvg(resolveIcon(set, match.iconName)!, Math.max(...options.sizes)) });
  }

  const { rasters, skipped } = await rasteriseAll(jobs, options.sizes, options.concurrency);
  for (const s of skipped) perSet[s.style].skipped++;
  for (const s of styles) perSet[s.style].rendered = jobs.filter((j, i) => j.style === s && rasters[i]).length;

  const kept = jobs.flatMap((job, i) => (rasters[i] ? [{ job, raster: rasters[i]! }] : []));
  const splits = splitEmoji(
    kept.map(({ job }) => ({ label: job.match.entry.label, style: job.style.style, supplementary: job.style.supplementary })),
    options.split,
  );
  const items: DatasetItem[] = kept.map(({ job, raster }, i) => ({
    split: splits[i],
    images: raster,
    caption: `${job.match.entry.label}, ${job.style.style}`,
    meta: {
      label: job.match.entry.label,
      style: job.style.style,
      tags: job.match.entry.tags,
      hexcode: job.match.entry.hexcode,
      icon: `${job.style.pkg.replace("@iconify-json/", "")}:${job.match.iconName}`,
      via: job.match.via,
      ...(job.style.supplementary ? { supplementary: true } : {}),
      ...(job.match.entry.tone ? { tone: job.match.entry.tone } : {}),
    },
  }));

  for (const { style, set } of sets) {
    sources.push({
      name: style.style,
      package: style.pkg,
      version: set.version,
      license: set.info.license.spdx,
      licenseUrl: set.info.license.url,
      attribution: `${set.info.author.name}${set.info.author.url ? ` (${set.info.author.url})` : ""}`,
      count: perSet[style.style].rendered,
    });
    const c = perSet[style.style];
    log(`${style.style.padEnd(9)} ${style.pkg}@${set.version} (${set.info.license.spdx}): ${c.rendered}${style.supplementary ? " supplementary (train-only)" : ""} images (${c.codepoint} by codepoint, ${c.name} by name)${c.skipped ? `, ${c.skipped} SVGs failed to render and were skipped` : ""}`);
  }
  sources.push({
    name: "labels",
    package: "emojibase-data",
    version: emojibase.version,
    license: "MIT",
    attribution: "Emojibase (CLDR annotations, Unicode)",
    count: emojibase.entries.length,
  });
  for (const s of skipped.slice(0, 10)) log(`  skipped ${s.style}:${s.icon}: ${s.error}`);

  return writeDataset({
    name: "emoji",
    outDir: options.outDir,
    sizes: options.sizes,
    seed: options.split.seed,
    items,
    sources,
    splitRule: EMOJI_SPLIT_RULE_TEXT,
    notes: { perSet, skipped, captionFormat: "<CLDR label>, <style>" },
    log,
  });
}
