import fs from "node:fs";
import path from "node:path";
import { jsonError, route } from "@/lib/api";
import { getDb } from "@/lib/db/client";
import { findModelVersionPath } from "@/lib/db/versions";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** GET /api/models/[id]/samples: the sample sheet (samples.png) the trainer left in the model's folder. */
export const GET = route(async (_request: Request, { params }: { params: Promise<{ id: string }> }) => {
  const { id } = await params;
  const version = await findModelVersionPath(getDb(), id);
  if (!version) return jsonError(404, `no model version with id ${id}`);
  const file = path.resolve(/*turbopackIgnore: true*/ process.cwd(), version.path, "samples.png");
  if (!fs.existsSync(file)) return jsonError(404, "this model folder has no samples.png");
  return new Response(fs.readFileSync(file), { headers: { "Content-Type": "image/png", "Cache-Control": "public, max-age=300" } });
});
