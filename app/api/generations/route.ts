import { jsonError } from "@/lib/api";
import { enqueue, GenerationParams, QueueFullError } from "@/lib/generate/queue";
import { generationService } from "@/lib/generate/service";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** POST /api/generations {prompt, n?, guidance?, temperature?, topK?, seed?} → 202 {id, seed}. */
export async function POST(request: Request) {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return jsonError(400, "the request body must be JSON");
  }
  const parsed = GenerationParams.safeParse(body);
  if (!parsed.success) return jsonError(400, parsed.error.issues.map((i) => i.message).join("; "));
  const service = await generationService();
  const active = await service.db.modelVersion.findFirst({ where: { active: true }, select: { id: true } });
  if (!active) return jsonError(503, "no model is active yet: train one and activate it");
  try {
    const job = await enqueue(service.db, parsed.data, { limit: service.queueLimit, modelVersionId: active.id });
    service.worker.notify();
    return Response.json(job, { status: 202, headers: { Location: `/api/generations/${job.id}` } });
  } catch (err) {
    if (err instanceof QueueFullError) return jsonError(429, err.message, { "Retry-After": String(err.retryAfterS) });
    throw err;
  }
}
