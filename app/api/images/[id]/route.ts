import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { getImagePng } from "@/lib/db/images";
import { ImageFileMissing } from "@/lib/db/image-store";
import { isRecordId, shownId } from "@/lib/ids";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * How long a PNG may be kept. An image never changes (immutable: no revalidating on reload), but an admin may delete
 * it, and a deleted image must leave every cache, shared ones (a CDN, a proxy) included, within a day: so a day, and
 * `proxy-revalidate` so a shared cache does not go on serving it stale once that day is over.
 */
const IMAGE_CACHE_CONTROL = "public, max-age=86400, proxy-revalidate, immutable";

/** GET /api/images/[id]: the PNG, cacheable for a day (see IMAGE_CACHE_CONTROL). */
export const GET = route(async (_request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  let image: { png: Uint8Array } | null;
  try {
    image = isRecordId(id) ? await getImagePng(getDb(), id) : null;
  } catch (err) {
    if (!(err instanceof ImageFileMissing)) throw err;
    // The row is there but its file is not (deleted by hand, or a folder not shared by every server).
    console.error(`[tessera] image ${id}: ${err.message} (IMAGE_STORE: ${err.store})`);
    return jsonError(500, `image ${shownId(id)} cannot be shown: ${err.message}`);
  }
  if (!image) return jsonError(404, `no image with id ${shownId(id)}`);
  return new Response(Buffer.from(image.png), {
    headers: { "Content-Type": "image/png", "Cache-Control": IMAGE_CACHE_CONTROL },
  });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
