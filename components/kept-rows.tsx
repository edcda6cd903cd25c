// A source picture with the rows of codes a primed job keeps: the picture as the model sees it (fitted whole on
// white, pixelated), the rows below the kept ones veiled, and a line where sampling starts. One code row is
// imageSize / grid pixels (4 on the shipped 32×32 models), so the veil sits exactly on the rows that are redrawn.
export function KeptRowsPreview({ src, keepRows, grid, testId }: { src: string; keepRows: number; grid: number; testId: string }) {
  const top = `${(100 * keepRows) / grid}%`;
  return (
    <div className="relative aspect-square w-32 overflow-hidden rounded border border-neutral-200 bg-white" data-testid={testId}>
      <img
        src={src}
        alt={`source picture, top ${keepRows} of ${grid} rows kept`}
        className="h-full w-full object-contain [image-rendering:pixelated]"
      />
      <div className="absolute inset-x-0 bottom-0 bg-white/75" style={{ top }} aria-hidden data-testid={`${testId}-veil`} />
      <div className="absolute inset-x-0 border-t-2 border-dashed border-tile-500" style={{ top }} aria-hidden />
    </div>
  );
}

/** "rows 1–k of 8 kept", as the pages say it. */
export function keptRowsLabel(keepRows: number, grid: number): string {
  return `${keepRows === 1 ? "row 1" : `rows 1–${keepRows}`} of ${grid} kept, the rest sampled`;
}

/** The "Keep rows 1–k" slider (1 to grid − 1: at least one row kept, at least one sampled) with its value beside it. */
export function KeepRowsSlider({
  value,
  grid,
  onChange,
  testId,
}: {
  value: number;
  grid: number;
  onChange: (rows: number) => void;
  testId: string;
}) {
  return (
    <label className="flex items-center gap-2">
      Keep rows 1–
      <input type="range" min={1} max={grid - 1} value={value} onChange={(e) => onChange(Number(e.target.value))} data-testid={testId} />
      <span data-testid={`${testId}-value`}>{value}</span>
    </label>
  );
}
