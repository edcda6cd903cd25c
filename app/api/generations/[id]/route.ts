import { adminCheck } from "@/lib/admin";
import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { deleteGeneration, getGeneration } from "@/lib/db/generations";
import { isRecordId, shownId } from "@/lib/ids";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

type Ctx = { params: Promise<{ id: string }> };

const withUrl = <T extends { id: string }>(img: T) => ({ ...img, url: `/api/images/${img.id}` });

/**
 * GET /api/generations/[id]: the job, its parameters, status, timings, `candidates` (how many CLIP ranked; null when
 * reranking was off), its kept images (URL, CLIP score) and the `rejected` candidates (the same, ranked lower);
 * for an image-primed job `primed` {keepRows, from} and the `source` picture's URL (else null).
 */
export const GET = route(async (_request: Request, { params }: Ctx) => {
  const { id } = await params;
  const job = isRecordId(id) ? await getGeneration(getDb(), id) : null;
  if (!job) return jsonError(404, `no generation with id ${shownId(id)}`);
  return Response.json(
    {
      ...job,
      images: job.images.map(withUrl),
      rejected: job.rejected.map(withUrl),
      source: job.primed ? `/api/generations/${job.id}/source` : null,
    },
    { headers: { "Cache-Control": "no-store" } },
  );
});

/**
 * DELETE /api/generations/[id] (admin: `Authorization: Bearer <token>` or a session): removes the job and its images.
 * A client locked out for wrong tokens (the login's throttle, lib/login-throttle.ts) gets 429 until it may try again.
 */
export const DELETE = route(async (request: Request, { params }: Ctx) => {
  const admin = await adminCheck(request.headers);
  if (!admin.ok && admin.reason === "throttled")
    return jsonError(429, `too many wrong admin tokens from this client; try again in ${admin.retryAfterS} s`, {
      "Retry-After": String(admin.retryAfterS),
    });
  if (!admin.ok) return jsonError(401, "deleting needs the admin token (Authorization: Bearer <token>)");
  const { id } = await params;
  if (!isRecordId(id) || !(await deleteGeneration(getDb(), id))) return jsonError(404, `no generation with id ${shownId(id)}`);
  return new Response(null, { status: 204 });
});

const notAllowed = methodNotAllowed("GET", "DELETE");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH };
