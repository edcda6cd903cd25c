// JSON error responses with one shape for every API route: { error: { status, message } }, and a wrapper that
// keeps that shape when a handler throws: a database that cannot be reached is a 503 (try again), anything else a
// 500 whose message hides the server's internals.
import { publicMessage } from "./errors";

export function jsonError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { status, message } }, { status, headers: { "Cache-Control": "no-store", ...headers } });
}

/** Errors a route may throw on purpose: they become a JSON error with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// A database that refuses writes for a while (an I/O error, a full disk, a file it cannot open) heals without us:
// the client should try again, so those are 503s too.
const UNAVAILABLE =
  /P1001|P1008|P1017|P2024|SQLITE_BUSY|SQLITE_READONLY|SQLITE_CANTOPEN|SQLITE_IOERR|SQLITE_FULL|SQLITE_PROTOCOL|ECONNREFUSED|database is locked|readonly database|disk I\/O error|database or disk is full|unable to open database|Connection terminated|timed out/i;

export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) return jsonError(err.status, err.message, err.headers);
  const text = `${(err as { code?: string })?.code ?? ""} ${err instanceof Error ? err.message : String(err)}`;
  if (UNAVAILABLE.test(text))
    return jsonError(503, `the database is unavailable right now (${publicMessage(err)}); try again shortly`, { "Retry-After": "5" });
  console.error(`[tessera] unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return jsonError(500, "internal error; the server log has the details");
}

/** Wraps a route handler so that whatever it throws is answered in the JSON error shape. */
export function route<A extends unknown[]>(handler: (...args: A) => Promise<Response>): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (err) {
      return errorResponse(err);
    }
  };
}

/**
 * A handler for the methods a route does not serve: 405 in the JSON error shape with an Allow header (Next's own
 * 405 has an empty body). Export it under each method name the route lacks.
 */
export function methodNotAllowed(...allowed: string[]): () => Promise<Response> {
  return async () => jsonError(405, `this address answers ${allowed.join(" and ")} only`, { Allow: allowed.join(", ") });
}
