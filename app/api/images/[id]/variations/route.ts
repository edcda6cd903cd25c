import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { clientIdFrom } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { firstIssue } from "@/lib/generate/params";
import { vaeVariations } from "@/lib/generate/vae-edit";
import { VariationsRequest } from "@/lib/generate/vae-edit-params";
import { readJsonBody } from "@/lib/http/body";
import { isRecordId, shownId } from "@/lib/ids";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * POST /api/images/[id]/variations {k?: 1–16, scale?: 0–3, seed?} → 200 {images: PNG data URLs, k, scale, seed,
 * model, ms}: k samples of the active model's VAE around this image (404 unknown image, 503 no VAE in the model, 429
 * + Retry-After beyond the queue's limits), drawn on a VAE thread (lib/generate/vae-threads.ts), never here.
 */
export const POST = route(async (request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  const parsed = VariationsRequest.safeParse(await readJsonBody(request));
  if (!parsed.success) return jsonError(400, firstIssue(parsed.error));
  if (!isRecordId(id)) return jsonError(404, `no image with id ${shownId(id)}`);
  const { body } = await vaeVariations(getDb(), id, parsed.data, clientIdFrom(request.headers));
  return Response.json(body, { headers: { "Cache-Control": "no-store" } });
});

const notAllowed = methodNotAllowed("POST");
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
