import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { clientIdFrom } from "@/lib/client-id";
import { acceptBrowserGeneration } from "@/lib/generate/browser-post";
import { generationService } from "@/lib/generate/service";
import { readJsonBody } from "@/lib/http/body";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/**
 * POST /api/generations/browser {request, codes} → 201 {id, seed}: stores what a visitor's browser sampled for
 * `request` (the body POST /api/generations takes, with its seed) as a generation made in the browser. The server
 * checks the request with the API's schema and every code against the model, and decodes the codes itself.
 */
export const POST = route(async (request: Request) => {
  const body = await readJsonBody(request);
  const service = await generationService();
  const got = await acceptBrowserGeneration(service.db, service.registry, body, clientIdFrom(request.headers), {
    limit: service.queueLimit,
    perClientLimit: service.queueLimitPerClient,
    concurrency: service.concurrency,
  });
  if (!got.ok)
    return got.retryAfterS === undefined
      ? jsonError(got.status, got.message)
      : jsonError(got.status, got.message, { "Retry-After": String(got.retryAfterS) });
  return Response.json({ id: got.id, seed: got.seed }, { status: 201, headers: { Location: `/api/generations/${got.id}` } });
});

const notAllowed = methodNotAllowed("POST");
export { notAllowed as GET, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
