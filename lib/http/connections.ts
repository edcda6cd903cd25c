// How long the server entry (scripts/server.ts) waits for a client to send its request, and how many connections
// one client may hold open. Node's defaults let a client dribbling headers or a body a byte at a time keep a
// connection for a minute (headers) or five (the whole request), checked only every 30 s, and any one address may
// open as many connections as the process has file descriptors: a few slow clients could hold the server.
// Behind a reverse proxy every connection comes from the proxy, so the per-client cap is the proxy's job there
// (README: Configuration, and the nginx example under "Several servers, one queue").
// An idle keep-alive connection, on the other hand, is kept longer than Node's 5 s: a client that reuses its socket
// just as the server closes it gets a connection reset (ECONNRESET) instead of an answer, and only browsers retry.
import http from "node:http";
import type net from "node:net";
import { z } from "zod";
import { clientGroup } from "../client-id";

export interface ConnectionLimits {
  /** Time for a client to send a request's headers. */
  headersTimeoutMs: number;
  /** Time for a client to send the whole request, headers and body (the response may take as long as it needs). */
  requestTimeoutMs: number;
  /** Connections one peer address may hold open at once; 0: no cap. */
  perClient: number;
  /** How long an idle keep-alive connection waits for its next request before the server closes it. */
  keepAliveTimeoutMs: number;
}

const ms = (name: string, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number of milliseconds` })
    .int(`${name} must be a whole number of milliseconds`)
    .min(1000, `${name} must be 1000–${max} ms`)
    .max(max, `${name} must be 1000–${max} ms`);

const LimitsEnv = z
  .object({
    // Every request here is small (JSON and form bodies are capped at 64 KiB): 10 s for the headers and 20 s for
    // the rest is generous for a slow link and short for a connection held on purpose.
    HEADERS_TIMEOUT_MS: ms("HEADERS_TIMEOUT_MS", 300_000).default(10_000),
    REQUEST_TIMEOUT_MS: ms("REQUEST_TIMEOUT_MS", 600_000).default(20_000),
    // A browser opens about 6 connections to a site, plus one per progress stream; several people behind one NAT
    // share an address.
    CONNECTIONS_PER_CLIENT: z.coerce
      .number({ error: "CONNECTIONS_PER_CLIENT must be a number (0: no cap)" })
      .int("CONNECTIONS_PER_CLIENT must be a whole number (0: no cap)")
      .min(0, "CONNECTIONS_PER_CLIENT must be 0–100000 (0: no cap)")
      .max(100_000, "CONNECTIONS_PER_CLIENT must be 0–100000 (0: no cap)")
      .default(32),
    // Longer than the few seconds a page or a script pauses between requests (the close-while-reusing race above
    // needs a pause of about this length), and an idle connection still counts against CONNECTIONS_PER_CLIENT.
    KEEP_ALIVE_TIMEOUT_MS: ms("KEEP_ALIVE_TIMEOUT_MS", 600_000).default(65_000),
  })
  // Node refuses a header timeout longer than the whole request's.
  .refine((e) => e.HEADERS_TIMEOUT_MS <= e.REQUEST_TIMEOUT_MS, {
    message: "HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS",
    path: ["HEADERS_TIMEOUT_MS"],
  });

/** The limits the environment asks for; throws a message naming the bad variable and what it accepts. */
export function connectionLimitsFromEnv(env: Record<string, string | undefined> = process.env): ConnectionLimits {
  const parsed = LimitsEnv.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const e = parsed.data;
  return {
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    perClient: e.CONNECTIONS_PER_CLIENT,
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
  };
}

/** The Node server options that enforce the timeouts. */
export function serverOptions(l: ConnectionLimits): http.ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // Node checks the two timeouts on this interval (default 30 s): a timeout is only as prompt as the check.
    connectionsCheckingInterval: Math.min(1000, Math.floor(l.headersTimeoutMs / 4)),
  };
}

/**
 * Closes a connection, before any byte of it is read, when its peer's client group (its address; an IPv6 /64, see
 * clientGroup) already holds `max` open ones. Every peer behind a proxy is the proxy: do not call this there.
 */
export function capConnectionsPerClient(server: net.Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  server.on("connection", (socket: net.Socket) => {
    const address = clientGroup(socket.remoteAddress ?? "unknown");
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}

/** An HTTP server for `handler` with the timeouts and, unless `behindProxy`, the per-client connection cap. */
export function createLimitedServer(handler: http.RequestListener, limits: ConnectionLimits, behindProxy: boolean): http.Server {
  const server = http.createServer(serverOptions(limits), handler);
  if (!behindProxy) capConnectionsPerClient(server, limits.perClient);
  return server;
}
