import type { Metadata } from "next";
import { getDb } from "@/lib/db/client";
import { findActiveModelVersion } from "@/lib/db/versions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "About" };

/** The emoji sets the shipped model learned from, with their licences (also recorded in the data manifest). */
const SOURCES = [
  { style: "noto", pkg: "@iconify-json/noto", license: "Apache-2.0", by: "Google Inc" },
  { style: "twemoji", pkg: "@iconify-json/twemoji", license: "CC-BY-4.0", by: "Twitter" },
  { style: "openmoji", pkg: "@iconify-json/openmoji", license: "CC-BY-SA-4.0", by: "OpenMoji" },
  { style: "fluent", pkg: "@iconify-json/fluent-emoji-flat", license: "MIT", by: "Microsoft Corporation" },
  { style: "labels", pkg: "emojibase-data", license: "MIT", by: "Emojibase (CLDR annotations)" },
];

export default async function AboutPage() {
  const active = await findActiveModelVersion(getDb());
  const config = (active?.config ?? {}) as Record<string, unknown>;
  return (
    <div className="max-w-3xl space-y-6">
      <h1 className="text-2xl font-bold">About Tessera</h1>
      <p>
        Tessera is a small text-to-image model in the mold of DALL·E (Ramesh et al. 2021), trained entirely by this project on a 2-core
        machine: on ONNX Runtime through the project&rsquo;s own reverse-mode autodiff, with TensorFlow.js as the readable reference every
        graph is tested against. A prompt is split into BPE tokens; a decoder-only transformer writes an 8×8 grid of image tokens one at a
        time, guided by the prompt (classifier-free guidance against an empty caption); a VQ-VAE decoder turns the grid into a 32×32
        picture.
      </p>
      {active && (
        <p data-testid="about-model">
          Active model: <strong>{active.name}</strong>
          {config.nLayer
            ? ` — ${String(config.nLayer)} layers × ${String(config.nEmbd)} wide, ${String(config.imageVocab)} image codes`
            : ""}
          .
        </p>
      )}
      <h2 className="text-lg font-semibold">Training data and licences</h2>
      <p>
        About 14,800 emoji images in four styles, each captioned &ldquo;&lt;CLDR label&gt;, &lt;style&gt;&rdquo;, built from these npm
        packages:
      </p>
      <table className="w-full text-left text-sm" data-testid="licences">
        <thead>
          <tr className="border-b border-neutral-200">
            <th className="py-1">style</th>
            <th>package</th>
            <th>licence</th>
            <th>by</th>
          </tr>
        </thead>
        <tbody>
          {SOURCES.map((s) => (
            <tr key={s.style} className="border-b border-neutral-100">
              <td className="py-1">{s.style}</td>
              <td className="font-mono text-xs">{s.pkg}</td>
              <td>{s.license}</td>
              <td>{s.by}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="text-sm text-neutral-600">
        Generated pictures from the openmoji style derive from CC-BY-SA-4.0 artwork; those from twemoji from CC-BY-4.0 artwork: credit the
        authors above when you share them.
      </p>
    </div>
  );
}
