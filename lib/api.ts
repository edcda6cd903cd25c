// JSON error responses with one shape for every API route: { error: { status, message } }.
export function jsonError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { status, message } }, { status, headers: { "Cache-Control": "no-store", ...headers } });
}
