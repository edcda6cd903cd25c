// The detail page's transformer tools (issue 32): "Complete from row k" and "Vary with the transformer", both new
// generation jobs that keep the top rows of one of this generation's images (encoded by the model's image
// tokenizer) and let the transformer write the rest. Server side it finds the model's grid of codes (its manifests,
// nothing loaded); the slider, preview and streaming live in the client half (./transformer-tools-client.tsx).
import { getDb } from "@/lib/db/client";
import { imageGridOfVersion } from "@/lib/generate/models";
import { TransformerToolsClient } from "./transformer-tools-client";

export async function TransformerTools({
  generationId,
  typedPrompt,
  model,
  images,
}: {
  generationId: string;
  /** Posted as typed with each request; never rendered (the page shows lib/text/shown.ts's form). */
  typedPrompt: string;
  /** The version that drew the images (null when it was deleted since: the active one completes them). */
  model: { id: string; name: string } | null;
  images: { id: string; index: number }[];
}) {
  if (!images.length) return null;
  const grid = await imageGridOfVersion(getDb(), model?.id ?? null);
  return (
    <section className="space-y-3 rounded border border-neutral-200 p-3" data-testid="transformer-tools">
      <h2 className="text-sm font-semibold text-neutral-600">Complete or vary (transformer)</h2>
      {grid ? (
        <TransformerToolsClient generationId={generationId} prompt={typedPrompt} model={model?.name} images={images} grid={grid} />
      ) : (
        <p className="text-sm text-neutral-500" data-testid="transformer-tools-off">
          Off: no model folder to complete these images with.
        </p>
      )}
    </section>
  );
}
