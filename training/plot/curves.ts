// Learning curves from the training loop's `<run>/log.jsonl` as SVG, drawn by hand (no plotting library): one line
// per log, x = items seen, step or training minutes, y = any logged key. `npm run plot` rasterises it with sharp.
import fs from "node:fs";

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const [W, H, L, R, T, B] = [900, 520, 70, 200, 30, 50];

export interface Series {
  name: string;
  points: [number, number][];
}

export type XAxis = "items" | "step" | "minutes";

/**
 * Points (x, key) of a log.jsonl: rows without the key (or without x) are skipped; bad lines are errors. x
 * "minutes" is training wall-clock (the loop's `elapsedSeconds`, which validation rows inherit from the training
 * row before them): the axis a fixed-time comparison of model sizes is read on.
 */
export function readSeries(file: string, key: string, x: XAxis): [number, number][] {
  const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  const points: [number, number][] = [];
  let minutes: number | undefined;
  lines.forEach((line, i) => {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${file}:${i + 1}: not JSON`);
    }
    if (typeof row.elapsedSeconds === "number") minutes = row.elapsedSeconds / 60;
    const [xv, yv] = [x === "minutes" ? minutes : row[x], row[key]];
    if (typeof xv === "number" && typeof yv === "number" && Number.isFinite(yv)) points.push([xv, yv]);
  });
  return points;
}

const ticks = (lo: number, hi: number, n = 5) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
/**
 * A tick's text, with enough decimals to tell it from its neighbours `step` away (a 21–23 dB axis in steps of 0.4
 * reads 21.0, 21.4, …, not 21, 21, 22).
 */
export function tickLabel(v: number, step: number): string {
  if (Math.abs(v) >= 1e4 && step >= 1e3) return `${(v / 1e3).toFixed(Math.max(0, Math.ceil(-Math.log10(step / 1e3))))}k`;
  if (Math.abs(v) < 1e-3 && v !== 0 && step < 1e-3) return v.toPrecision(3);
  return v.toFixed(Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))));
}

/** The chart as SVG text. */
export function curvesSvg(series: Series[], xLabel: string, yLabel: string, logY: boolean): string {
  const all = series.flatMap((s) => s.points);
  if (!all.length) throw new Error(`no rows carry ${yLabel}`);
  const fy = (v: number) => (logY ? Math.log10(Math.max(v, 1e-12)) : v);
  const [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...all.map((p) => fy(p[1]))), Math.max(...all.map((p) => fy(p[1])))];
  const sx = (v: number) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (v: number) => H - B - ((fy(v) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`];
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${sx(t)}" y1="${T}" x2="${sx(t)}" y2="${H - B}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(t)}" y="${H - B + 18}" font-size="12" text-anchor="middle">${tickLabel(t, (x1 - x0) / 5)}</text>`);
  }
  const yTicks = ticks(y0, y1).map((t) => (logY ? 10 ** t : t));
  yTicks.forEach((v, i) => {
    // The gap to the nearer neighbour sets the decimals (on a log axis it shrinks towards the bottom).
    const gap = Math.min(...[yTicks[i - 1], yTicks[i + 1]].filter((u) => u !== undefined).map((u) => Math.abs(u - v)));
    parts.push(`<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${sy(v) + 4}" font-size="12" text-anchor="end">${tickLabel(v, gap || 1)}</text>`);
  });
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" font-size="13" text-anchor="middle">${xLabel}</text>`);
  parts.push(
    `<text x="16" y="${(T + H - B) / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${yLabel}${logY ? " (log)" : ""}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.6"/>`);
    parts.push(`<rect x="${W - R + 14}" y="${T + 8 + i * 20}" width="14" height="4" fill="${c}"/>`);
    parts.push(`<text x="${W - R + 34}" y="${T + 14 + i * 20}" font-size="12">${escapeXml(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">${parts.join("")}</svg>`;
}

export const escapeXml = (s: string) => s.replace(/[<>&"]/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[ch]!);
