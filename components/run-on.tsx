"use client";

// "Run on: server | this browser" (issue 33). The browser option is offered only where it can work: WebAssembly
// present and the model's download size known (its manifest answered); otherwise it is disabled with the reason.
import { useEffect, useState } from "react";
import type { LoadState } from "./use-browser-run";

export type RunOn = "server" | "browser";

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export function RunOnPicker({
  value,
  onChange,
  model,
  load,
  disabled,
}: {
  value: RunOn;
  onChange: (v: RunOn) => void;
  /** The picked model's id: its browser files' size is asked for. */
  model: string;
  load: LoadState;
  disabled: boolean;
}) {
  const [offer, setOffer] = useState<{ ok: true; bytes: number } | { ok: false; why: string } | null>(null);
  useEffect(() => {
    let live = true;
    setOffer(null);
    if (typeof WebAssembly !== "object") return setOffer({ ok: false, why: "this browser has no WebAssembly" });
    fetch(`/api/models/${encodeURIComponent(model)}/browser`)
      .then(async (res) => {
        const body = await res.json();
        if (!live) return;
        setOffer(res.ok ? { ok: true, bytes: body.totalBytes } : { ok: false, why: body?.error?.message ?? `HTTP ${res.status}` });
      })
      .catch(() => live && setOffer({ ok: false, why: "the model's size could not be asked" }));
    return () => {
      live = false;
    };
  }, [model]);
  const canBrowser = offer?.ok === true;
  useEffect(() => {
    if (!canBrowser && value === "browser" && offer) onChange("server");
  }, [canBrowser, value, offer, onChange]);

  return (
    <fieldset className="flex flex-wrap items-center gap-3 text-sm" data-testid="run-on">
      <legend className="sr-only">Run on</legend>
      <span className="text-neutral-600">Run on:</span>
      <label className="flex items-center gap-1">
        <input
          type="radio"
          name="run-on"
          checked={value === "server"}
          onChange={() => onChange("server")}
          disabled={disabled}
          data-testid="run-on-server"
        />
        server
      </label>
      <label className="flex items-center gap-1">
        <input
          type="radio"
          name="run-on"
          checked={value === "browser"}
          onChange={() => onChange("browser")}
          disabled={disabled || !canBrowser}
          data-testid="run-on-browser"
        />
        this browser
      </label>
      <span className="text-neutral-500" data-testid="run-on-note">
        {offer === null
          ? "checking whether this browser can run the model…"
          : !offer.ok
            ? `this browser cannot run it: ${offer.why}`
            : load.kind === "loading"
              ? `loading the model: ${mb(load.loaded)} of ${mb(load.total)}${load.cached ? ` (${mb(load.cached)} from this browser's cache)` : ""}`
              : load.kind === "ready"
                ? `model loaded here (${mb(load.total)}, ${load.cached === load.total ? "all from this browser's cache" : `${mb(load.total - load.cached)} downloaded`}); browser runs are not reranked`
                : `downloads ${mb(offer.bytes)} once (cached afterwards); browser runs are not reranked`}
      </span>
    </fieldset>
  );
}
