// The detail page's VAE tools: variations of one of this generation's images and a blend strip towards another
// image. Server side it only asks whether the active model has a VAE (a file check) and says so when it has none;
// the buttons live in the client half (./vae-tools-client.tsx).
import { getDb } from "@/lib/db/client";
import { vaeAvailability } from "@/lib/generate/vae-edit";
import { VaeToolsClient } from "./vae-tools-client";

export async function VaeTools({ images }: { images: { id: string; index: number }[] }) {
  if (!images.length) return null;
  const vae = await vaeAvailability(getDb());
  return (
    <section className="space-y-3 rounded border border-neutral-200 p-3" data-testid="vae-tools">
      <h2 className="text-sm font-semibold text-neutral-600">Variations and blends (VAE)</h2>
      {vae.on ? (
        <VaeToolsClient images={images} />
      ) : (
        <p className="text-sm text-neutral-500" data-testid="vae-off">
          Off: {vae.reason}.
        </p>
      )}
    </section>
  );
}
