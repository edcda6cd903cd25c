// Slow and greedy clients against a real Node HTTP server built as the server entry builds it, over real sockets:
// headers or a body dribbled a byte at a time are cut off at their timeout, a slow response is not, and one
// address holds at most its share of connections.
import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectionLimitsFromEnv, createLimitedServer, serverOptions, type ConnectionLimits } from "./connections";

const servers: http.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that reads the whole body, then answers 200 after `delayMs`. */
async function start(limits: ConnectionLimits, o: { behindProxy?: boolean; delayMs?: number } = {}) {
  const bodies: number[] = [];
  const server = createLimitedServer(
    (req, res) => {
      let n = 0;
      req.on("data", (c: Buffer) => (n += c.length));
      req.on("end", () => {
        bodies.push(n);
        setTimeout(() => res.end("ok"), o.delayMs ?? 0);
      });
    },
    limits,
    o.behindProxy ?? false,
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, bodies };
}

/** A raw connection: when it closed (ms after it opened; null while open), and what the server sent on it. */
function connect(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  sockets.push(socket);
  const opened = Date.now();
  const state = { socket, closedAfterMs: null as number | null, received: "" };
  socket.on("data", (d) => (state.received += d.toString()));
  socket.on("error", () => {});
  socket.on("close", () => (state.closedAfterMs = Date.now() - opened));
  return state;
}

/** Writes `text` a byte every `everyMs` until the socket closes (or the text runs out). */
function dribble(socket: net.Socket, text: string, everyMs = 100): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++]);
  }, everyMs);
  socket.on("close", () => clearInterval(timer));
}

const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !done() && Date.now() < end;) await new Promise((r) => setTimeout(r, 25));
};

const FAST: ConnectionLimits = { headersTimeoutMs: 1000, requestTimeoutMs: 2000, perClient: 0, keepAliveTimeoutMs: 1500 };

describe("slow clients", () => {
  it("a client dribbling its headers, or sending nothing, is cut off at the header timeout", async () => {
    const { port } = await start(FAST);
    const slow = Array.from({ length: 6 }, (_, i) => {
      const c = connect(port);
      if (i % 2 === 0) dribble(c.socket, "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + "a".repeat(1000));
      return c;
    });
    await until(() => slow.every((c) => c.closedAfterMs !== null), 6000);
    // The timeout, plus at most one check interval and a busy machine's slack: not Node's 60 s.
    for (const c of slow) expect(c.closedAfterMs).not.toBeNull();
    for (const c of slow) expect(c.closedAfterMs!).toBeLessThan(FAST.headersTimeoutMs + 2000);
  });

  it("a client dribbling its body is cut off at the request timeout; a slow answer to a prompt client is not", async () => {
    const { port, bodies } = await start(FAST, { delayMs: FAST.requestTimeoutMs + 500 });
    const slow = connect(port);
    slow.socket.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n");
    dribble(slow.socket, "b".repeat(1000));
    const prompt = connect(port);
    prompt.socket.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    await until(() => slow.closedAfterMs !== null && prompt.closedAfterMs !== null, 8000);
    expect(slow.closedAfterMs).not.toBeNull();
    expect(slow.closedAfterMs!).toBeLessThan(FAST.requestTimeoutMs + 2000);
    // The request timeout bounds receiving a request, never the answer (progress streams run for minutes).
    expect(prompt.received).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok$/);
    expect(bodies).toEqual([3]);
  });
});

describe("idle keep-alive connections", () => {
  it("are kept past the header timeout for the client's next request, and closed after the keep-alive timeout", async () => {
    const limits = { ...FAST, keepAliveTimeoutMs: 2000 };
    const { port } = await start(limits);
    const c = connect(port);
    const openedAt = Date.now();
    const request = "GET / HTTP/1.1\r\nHost: tessera\r\n\r\n";
    const answers = () => c.received.match(/HTTP\/1\.1 200 OK/g)?.length ?? 0;
    c.socket.write(request);
    await until(() => answers() === 1, 2000);
    // Idle longer than the header timeout (1 s), shorter than the keep-alive one: the same connection answers.
    await until(() => false, 1300);
    c.socket.write(request);
    await until(() => answers() === 2, 2000);
    expect(answers()).toBe(2);
    const idleSince = Date.now();
    await until(() => c.closedAfterMs !== null, 5000);
    const idleMs = openedAt + c.closedAfterMs! - idleSince;
    expect(idleMs).toBeGreaterThanOrEqual(limits.keepAliveTimeoutMs - 300);
    expect(idleMs).toBeLessThan(limits.keepAliveTimeoutMs + 1500);
  });
});

describe("connections per client", () => {
  const CAP: ConnectionLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 10_000, perClient: 3, keepAliveTimeoutMs: 10_000 };

  it("an address holds at most its share; the next one is closed at once, and a freed place can be taken", async () => {
    const { port } = await start(CAP);
    const held = Array.from({ length: CAP.perClient }, () => connect(port));
    await until(() => false, 300);
    const extra = Array.from({ length: 5 }, () => connect(port));
    await until(() => extra.every((c) => c.closedAfterMs !== null), 2000);
    for (const c of extra) expect(c.closedAfterMs).not.toBeNull();
    for (const c of held) expect(c.closedAfterMs).toBeNull();
    held[0].socket.destroy();
    await until(() => held[0].closedAfterMs !== null, 1000);
    await until(() => false, 100);
    const next = connect(port);
    next.socket.write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    await until(() => next.closedAfterMs !== null, 2000);
    expect(next.received).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it("behind a proxy (every peer is the proxy) there is no cap", async () => {
    const { port } = await start(CAP, { behindProxy: true });
    const many = Array.from({ length: CAP.perClient + 3 }, () => connect(port));
    await until(() => false, 500);
    for (const c of many) expect(c.closedAfterMs).toBeNull();
  });
});

describe("the settings", () => {
  it("by default cut a slow client off within seconds, checked every second at most, and cap connections", () => {
    const limits = connectionLimitsFromEnv({});
    expect(limits.headersTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(limits.requestTimeoutMs).toBeLessThanOrEqual(20_000);
    expect(limits.perClient).toBeGreaterThan(0);
    const options = serverOptions(limits);
    expect(options).toMatchObject({ headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs });
    expect(options.connectionsCheckingInterval).toBeLessThanOrEqual(1000);
    // Idle keep-alive sockets outlive a pause of several seconds between a client's requests (Node's default: 5 s).
    expect(options.keepAliveTimeout).toBe(limits.keepAliveTimeoutMs);
    expect(limits.keepAliveTimeoutMs).toBeGreaterThanOrEqual(60_000);
  });

  it("come from the environment, and a bad value is refused with what is accepted", () => {
    const env = { HEADERS_TIMEOUT_MS: "5000", REQUEST_TIMEOUT_MS: "9000", CONNECTIONS_PER_CLIENT: "0", KEEP_ALIVE_TIMEOUT_MS: "30000" };
    expect(connectionLimitsFromEnv(env)).toEqual({
      headersTimeoutMs: 5000,
      requestTimeoutMs: 9000,
      perClient: 0,
      keepAliveTimeoutMs: 30_000,
    });
    expect(() => connectionLimitsFromEnv({ KEEP_ALIVE_TIMEOUT_MS: "0" })).toThrow(/KEEP_ALIVE_TIMEOUT_MS must be 1000–600000 ms/);
    expect(() => connectionLimitsFromEnv({ CONNECTIONS_PER_CLIENT: "lots" })).toThrow(
      /CONNECTIONS_PER_CLIENT must be a number \(0: no cap\)/,
    );
    expect(() => connectionLimitsFromEnv({ HEADERS_TIMEOUT_MS: "10" })).toThrow(/HEADERS_TIMEOUT_MS must be 1000–300000 ms/);
    expect(() => connectionLimitsFromEnv({ HEADERS_TIMEOUT_MS: "30000", REQUEST_TIMEOUT_MS: "20000" })).toThrow(
      /HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS/,
    );
  });
});
