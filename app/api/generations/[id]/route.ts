import { requestIsAdmin } from "@/lib/admin";
import { jsonError } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { getGeneration } from "@/lib/gallery";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/generations/[id]: the job, its parameters, status, timings and image URLs. */
export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const job = await getGeneration(getDb(), id);
  if (!job) return jsonError(404, `no generation with id ${id}`);
  return Response.json(
    { ...job, images: job.images.map((img) => ({ ...img, url: `/api/images/${img.id}` })) },
    { headers: { "Cache-Control": "no-store" } },
  );
}

/** DELETE /api/generations/[id] (admin: `Authorization: Bearer <token>`): removes the job and its images. */
export async function DELETE(request: Request, { params }: { params: Promise<{ id: string }> }) {
  if (!requestIsAdmin(request)) return jsonError(401, "deleting needs the admin token (Authorization: Bearer <token>)");
  const { id } = await params;
  const { count } = await getDb().generation.deleteMany({ where: { id } });
  if (!count) return jsonError(404, `no generation with id ${id}`);
  return new Response(null, { status: 204 });
}
