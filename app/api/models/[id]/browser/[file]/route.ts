import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { IMMUTABLE } from "@/lib/generate/browser-files";
import { browserFileResponse, gzipTwinOf } from "@/lib/generate/gzip-variant";
import { browserFile } from "@/lib/generate/browser-service";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/models/[id]/browser/[file]: one of the version's browser files, by its content-hashed name; immutable, or its gzipped twin under `<name>.gz` (the page inflates it). */
export const GET = route(async (_request: Request, { params }: { params: Promise<{ id: string; file: string }> }) => {
  const { id, file } = await params;
  const twinOf = gzipTwinOf(file);
  const got = await browserFile(id, twinOf ?? file);
  if (!got.ok) return jsonError(got.status, got.message);
  return browserFileResponse(twinOf !== null, got.value, IMMUTABLE);
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
