"use client";

// The Create form's "Start from an image": pick or drop a PNG, JPEG or WebP (at most 1 MB, checked here as the
// server checks it, lib/generate/source-image.ts), choose how many rows of its codes to keep, and see them: the
// picture as the model will see it (fitted whole on white) with the rows that will be redrawn veiled.
import { useEffect, useState } from "react";
import { UPLOAD_MAX_BYTES, UPLOAD_TYPES } from "@/lib/generate/params";
import { KeepRowsSlider, KeptRowsPreview, keptRowsLabel } from "./kept-rows";

export interface InitChoice {
  file: File;
  keepRows: number;
}

/** Why a file cannot be sent, or null: the server's own rules, so a wrong file is told before a round trip. */
function problem(file: File): string | null {
  if (!(UPLOAD_TYPES as readonly string[]).includes(file.type)) return `${file.name} is not a PNG, JPEG or WebP image`;
  if (file.size > UPLOAD_MAX_BYTES) return `${file.name} is larger than 1 MB`;
  return null;
}

export function InitPicker({
  value,
  onChange,
  grid,
  disabled,
}: {
  value: InitChoice | null;
  onChange: (v: InitChoice | null) => void;
  /** Rows of codes of the picked model's images (8 on the shipped models): 1 to grid − 1 may be kept. */
  grid: number;
  disabled: boolean;
}) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [over, setOver] = useState(false);

  // An object URL per picked file, released when it changes.
  useEffect(() => {
    if (!value) return setUrl(null);
    const u = URL.createObjectURL(value.file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [value?.file]);

  function pick(file: File | undefined) {
    if (!file) return;
    const why = problem(file);
    setError(why);
    if (!why) onChange({ file, keepRows: Math.min(value?.keepRows ?? Math.floor(grid / 2), grid - 1) });
  }

  return (
    <fieldset className="space-y-2 rounded-md border border-dashed border-neutral-300 p-3" data-testid="init-picker" disabled={disabled}>
      <legend className="px-1 text-sm text-neutral-600">Start from an image (optional)</legend>
      <label
        className={`flex cursor-pointer flex-wrap items-center gap-2 rounded p-2 text-sm ${over ? "bg-tile-50 ring-2 ring-tile-500" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          pick(e.dataTransfer.files[0]);
        }}
        data-testid="init-drop"
      >
        <span className="text-neutral-700">Drop a PNG, JPEG or WebP (≤ 1 MB) here, or</span>
        <input
          type="file"
          accept={UPLOAD_TYPES.join(",")}
          onChange={(e) => {
            pick(e.target.files?.[0]);
            e.target.value = "";
          }}
          className="text-sm"
          data-testid="init-file"
        />
      </label>
      {error && (
        <p className="text-sm text-red-700" role="alert" data-testid="init-error">
          {error}
        </p>
      )}
      {value && url && (
        <div className="flex flex-wrap items-center gap-4">
          <KeptRowsPreview src={url} keepRows={value.keepRows} grid={grid} testId="init-preview" />
          <div className="space-y-2 text-sm">
            <KeepRowsSlider
              value={value.keepRows}
              grid={grid}
              onChange={(keepRows) => onChange({ ...value, keepRows })}
              testId="init-keep-rows"
            />
            <p className="text-neutral-500">
              {value.file.name}: {keptRowsLabel(value.keepRows, grid)}
            </p>
            <button type="button" className="text-tile-700 underline" onClick={() => onChange(null)} data-testid="init-remove">
              Remove the image
            </button>
          </div>
        </div>
      )}
    </fieldset>
  );
}
