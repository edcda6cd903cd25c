// A terminal progress bar for the offline scripts: count, rate and ETA on one redrawn line in a terminal, or a
// plain line every 10 % when the output is a log file (CI, nohup).

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export class Progress {
  private done = 0;
  private readonly started = performance.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = !!stream.isTTY;
  }

  /** Advances by n; `extra` (e.g. "loss 0.123") is shown after the ETA. */
  tick(n = 1, extra = ""): void {
    this.update(this.done + n, extra);
  }

  /** Sets the absolute count (e.g. seconds elapsed of a time budget). */
  update(done: number, extra = ""): void {
    this.done = done;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = now;
      this.stream.write(`\r${this.line(extra)}\x1b[K`);
    } else {
      const decile = Math.floor((10 * this.done) / Math.max(1, this.total));
      // The 100 % line is finish()'s to write.
      if (decile === this.lastDecile || this.done >= this.total) return;
      this.lastDecile = decile;
      this.stream.write(`${this.line(extra)}\n`);
    }
  }

  /** Final line, always written. */
  finish(extra = ""): void {
    this.stream.write(`${this.tty ? "\r" : ""}${this.line(extra)}${this.tty ? "\x1b[K" : ""}\n`);
  }

  private line(extra: string): string {
    const elapsed = (performance.now() - this.started) / 1000;
    const frac = this.total ? Math.min(1, this.done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    return (
      `${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.done}/${this.total} ${rate.toFixed(1)}/s ` +
      `${this.done >= this.total ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`}${extra ? ` ${extra}` : ""}`
    );
  }
}

/** Runs `task` over items with at most `limit` in flight, keeping results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
