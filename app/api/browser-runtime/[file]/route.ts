import { jsonError, methodNotAllowed, route } from "@/lib/api";
import { IMMUTABLE } from "@/lib/generate/browser-files";
import { encodedResponse } from "@/lib/generate/encoded-response";
import { runtimeFile } from "@/lib/generate/browser-service";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/browser-runtime/[file]: onnxruntime-web's wasm binary under its content-hashed name; immutable, brotli or gzip where the client accepts it. */
export const GET = route(async (request: Request, { params }: { params: Promise<{ file: string }> }) => {
  const { file } = await params;
  const got = runtimeFile(file);
  if (!got.ok) return jsonError(got.status, got.message);
  return encodedResponse(request, got.value.bytes, { "Content-Type": got.value.contentType, "Cache-Control": IMMUTABLE });
});

const notAllowed = methodNotAllowed("GET");
export { notAllowed as POST, notAllowed as PUT, notAllowed as PATCH, notAllowed as DELETE };
