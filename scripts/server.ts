// The HTTP server `npm start` runs: Next's request handler behind a thin layer this project controls. It is the
// earliest code that sees a request, so it (1) sends the security headers on every response, errors included,
// (2) answers the malformed requests Next's router and action handler would turn into a 500 (lib/http/guard.ts),
// (3) stamps each request with a hash of the client's address (lib/client-id.ts) that no client can forge,
// (4) binds to HOST (default 127.0.0.1: reachable from this machine only until you choose otherwise), and (5) cuts
// off clients that send their request too slowly or hold too many connections (lib/http/connections.ts).
import http from "node:http";
import nextServer from "next";
import { CLIENT_HEADER, PROTO_HEADER, clientAddress, clientIdForAddress } from "../lib/client-id";
import { createLimitedServer, type ConnectionLimits } from "../lib/http/connections";
import { checkActionBody, checkRequest, isActionCandidate, type Rejection } from "../lib/http/guard";
import { securityHeaders } from "../lib/http/security-headers";

export interface ServeOptions {
  dev: boolean;
  port: number;
  host: string;
  /** Trust X-Forwarded-For / X-Forwarded-Proto (only behind a reverse proxy that sets them). */
  trustProxy: boolean;
  /** Request timeouts and the per-client connection cap (not applied behind a proxy: every peer is the proxy). */
  limits: ConnectionLimits;
  dir?: string;
}

/**
 * Reads exactly `length` bytes of a request body and puts them back (Readable.unshift, before the stream has
 * ended), so Next reads the same body afterwards. Only for small bodies whose length the guard has checked.
 */
function peekBody(req: http.IncomingMessage, length: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (result: Buffer | null) => {
      req.off("readable", onReadable);
      req.off("end", onEnd);
      req.off("error", onEnd);
      resolve(result);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (got < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        got += chunk.length;
      }
      if (got >= length) {
        const body = Buffer.concat(chunks);
        req.unshift(body);
        done(body);
      }
    };
    // The body ended (or broke) before its declared length: there is nothing sound to hand on.
    const onEnd = () => done(null);
    if (length === 0) return resolve(Buffer.alloc(0));
    req.on("readable", onReadable);
    req.on("end", onEnd);
    req.on("error", onEnd);
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function reject(req: http.IncomingMessage, res: http.ServerResponse, r: Rejection): void {
  const wantsPage = req.method === "GET" && !req.url?.startsWith("/api/") && /text\/html/.test(req.headers.accept ?? "");
  // The body of a refused request is not read: close the connection rather than leave it half-read.
  res.setHeader("Connection", "close");
  res.setHeader("Cache-Control", "no-store");
  if (wantsPage) {
    res.writeHead(r.status, { "Content-Type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bad request · Tessera</title></head>` +
        `<body style="font-family:system-ui;margin:3rem"><h1 data-testid="bad-request">Bad request</h1><p>${escapeHtml(r.message)}.</p>` +
        `<p><a href="/">Back to Tessera</a></p></body></html>`,
    );
    return;
  }
  res.writeHead(r.status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ error: { status: r.status, message: r.message } }));
}

export async function serve(o: ServeOptions): Promise<http.Server> {
  const create = ((nextServer as unknown as { default?: typeof nextServer }).default ?? nextServer) as typeof nextServer;
  const app = create({ dev: o.dev, dir: o.dir ?? process.cwd(), hostname: o.host, port: o.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  const headers = securityHeaders(o.dev);
  const server = createLimitedServer(
    async (req, res) => {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      const forwardedProto = String(req.headers["x-forwarded-proto"] ?? "")
        .split(",")[0]
        .trim();
      const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
      const proto = (o.trustProxy ? forwardedProto === "https" : tls) ? "https" : "http";
      const head = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, proto } as const;
      const rejected = checkRequest(head);
      if (rejected) return reject(req, res, rejected);
      if (isActionCandidate(head)) {
        // checkRequest has required a Content-Length within the action limit.
        const body = await peekBody(req, Number(req.headers["content-length"]));
        const bad =
          body === null
            ? { status: 400, message: "the form post ended early" }
            : await checkActionBody(String(req.headers["content-type"] ?? ""), body, req.headers["next-action"] !== undefined);
        if (bad) return reject(req, res, bad);
      }
      const address = clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], o.trustProxy);
      req.headers[CLIENT_HEADER] = clientIdForAddress(address);
      req.headers[PROTO_HEADER] = proto;
      handle(req, res).catch((err: unknown) => {
        console.error(`[tessera] request ${req.method} ${req.url} failed: ${(err as Error).stack ?? String(err)}`);
        if (!res.headersSent) reject(req, res, { status: 500, message: "internal error; the server log has the details" });
        else res.destroy();
      });
    },
    o.limits,
    o.trustProxy,
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return server;
}
