import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { clientIdFrom } from "@/lib/client-id";
import { getDb } from "@/lib/db/client";
import { firstIssue } from "@/lib/generate/params";
import { vaeBlend } from "@/lib/generate/vae-edit";
import { BlendRequest } from "@/lib/generate/vae-edit-params";
import { readJsonBody } from "@/lib/http/body";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * POST /api/blend {a, b, steps?: 3–16} → 200 {images: PNG data URLs from a to b, steps, model, ms}: the active
 * model's VAE decodes interpolations between the two images' latents (a and b: image ids, or a generation's id for
 * its first image; 404 unknown, 503 no VAE in the model, 429 + Retry-After beyond the queue's limits). The tensor
 * work runs on a VAE thread (lib/generate/vae-threads.ts), never here.
 */
export const POST = route(async (request: Request) => {
  const parsed = BlendRequest.safeParse(await readJsonBody(request));
  if (!parsed.success) return jsonError(400, firstIssue(parsed.error));
  const { body } = await vaeBlend(getDb(), parsed.data, clientIdFrom(request.headers));
  return Response.json(body, { headers: { "Cache-Control": "no-store" } });
});

const notAllowed = methodNotAllowed("POST");
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
