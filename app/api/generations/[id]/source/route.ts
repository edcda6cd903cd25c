import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { getGenerationSource } from "@/lib/db/generations";
import { isRecordId, shownId } from "@/lib/ids";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * GET /api/generations/[id]/source: the picture an image-primed job started from, as its model sees it (a PNG at
 * the model's image size; an upload flattened on white and fitted). 404 for an unknown job or one not primed.
 * Cacheable as the images are (it never changes; it goes when the job is deleted).
 */
export const GET = route(async (_request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  const png = isRecordId(id) ? await getGenerationSource(getDb(), id) : null;
  if (!png) return jsonError(404, `no source picture for generation ${shownId(id)}`);
  return new Response(Buffer.from(png), {
    headers: { "Content-Type": "image/png", "Cache-Control": "public, max-age=86400, proxy-revalidate, immutable" },
  });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
