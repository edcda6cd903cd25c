import { methodNotAllowed, route } from "@/lib/api";
import { getHealth } from "@/lib/health";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/health: backend in use, model status, DB reachability, version. 503 while degraded. */
export const GET = route(async () => {
  const health = await getHealth();
  return Response.json(health, {
    status: health.status === "ok" ? 200 : 503,
    headers: { "Cache-Control": "no-store" },
  });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
