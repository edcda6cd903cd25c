import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { getImagePng } from "@/lib/db/images";
import { ImageFileMissing } from "@/lib/db/image-store";
import { isRecordId, shownId } from "@/lib/ids";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/images/[id]: the PNG, cacheable forever (an image never changes; deleting it removes the id). */
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
    headers: { "Content-Type": "image/png", "Cache-Control": "public, max-age=31536000, immutable" },
  });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
