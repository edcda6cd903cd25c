import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { browserManifest } from "@/lib/generate/browser-service";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * GET /api/models/[id]/browser (`id`: a version's id or name, or "active"): what a page needs to generate with this
 * model itself — config, sampling defaults, graph names and its files (hashed names, sizes). Not cached: the active
 * model and the files' names change when the weights do.
 */
export const GET = route(async (_request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  const got = await browserManifest(id);
  if (!got.ok) return jsonError(got.status, got.message);
  return Response.json(got.value, { headers: { "Cache-Control": "no-store" } });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
