// Hostile input against the real server (`npm start`): a sweep over every route with malformed ids, bodies,
// cookies, query strings and form posts must get no 5xx; every API error is the JSON error shape; every response
// carries the security headers. Requests go through node:http so nothing normalises them on the way.
import http from "node:http";
import { expect, test } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 3100);
const HOST = `127.0.0.1:${port}`;

interface Sent {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean;
}
interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(r: Sent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
    if (r.body !== undefined && !r.chunked) headers["Content-Length"] = Buffer.byteLength(r.body);
    let answered = false;
    // A fresh connection each time: a server that refuses a body mid-upload closes the connection.
    const req = http.request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      // An event stream for a live job never ends: its status is all the sweep needs.
      if (String(res.headers["content-type"]).startsWith("text/event-stream")) {
        res.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: "" });
      }
    });
    // The server may refuse and close before the whole body is sent (413, 411): that is an answer too.
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    if (r.body !== undefined) req.write(r.body, () => {});
    req.end();
  });
}

const BAD_IDS = [
  "%ZZ",
  "%",
  "%E0%A4%A",
  "%FF",
  "%ED%A0%80",
  "%00",
  "a%0Ab",
  "..%2F..%2Fetc%2Fpasswd",
  "x".repeat(3000),
  "%F0%9F%98%80",
  "null",
  "-1",
];
const ID_ROUTES = (id: string): Sent[] => [
  { method: "GET", path: `/api/generations/${id}` },
  { method: "DELETE", path: `/api/generations/${id}` },
  { method: "DELETE", path: `/api/generations/${id}`, headers: { Cookie: "tessera_admin=%ZZ" } },
  { method: "GET", path: `/api/generations/${id}/events` },
  { method: "GET", path: `/api/images/${id}` },
  { method: "GET", path: `/api/models/${id}/samples` },
  { method: "GET", path: `/gallery/${id}`, headers: { Accept: "text/html" } },
];
const JSON_ROUTES = ["/api/generations", "/api/tokenize"];
const json = { "Content-Type": "application/json" };
const BAD_BODIES: Sent[] = JSON_ROUTES.flatMap((path) => [
  { method: "POST", path, headers: json, body: '{"prompt":"a \\ud800"}' },
  { method: "POST", path, headers: json, body: '{"prompt":"\\u200b\\u200b"}' },
  { method: "POST", path, headers: json, body: '{"prompt":"a\\u0000b"}' },
  { method: "POST", path, headers: json, body: '{"prompt":"ok","n":"4"}' },
  { method: "POST", path, headers: json, body: '{"prompt":"ok","n":true}' },
  { method: "POST", path, headers: json, body: '{"prompt":"ok","n":[1]}' },
  { method: "POST", path, headers: json, body: '{"prompt":"ok","seed":null}' },
  { method: "POST", path, headers: json, body: '{"prompt":"ok","seed":"0x10"}' },
  { method: "POST", path, headers: json, body: "not json" },
  { method: "POST", path, headers: json, body: "" },
  { method: "POST", path, headers: json, body: "[".repeat(100_000) },
  { method: "POST", path, headers: json, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { method: "POST", path, headers: json, body: JSON.stringify({ prompt: "x".repeat(1_000_000) }) },
  { method: "POST", path, headers: json, body: JSON.stringify({ prompt: "x".repeat(1_000_000) }), chunked: true },
  { method: "POST", path, headers: { "Content-Type": "text/plain" }, body: '{"prompt":"ok"}' },
  { method: "POST", path, headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "prompt=ok" },
  { method: "POST", path, body: '{"prompt":"ok"}' },
  { method: "PUT", path, headers: json, body: '{"prompt":"ok"}' },
  { method: "GET", path },
]);
const PAGES = ["/", "/gallery", "/models", "/about", "/admin", "/no-such-page"];
const PAGE_VARIANTS: Sent[] = [
  ...PAGES.map((path) => ({ method: "GET", path, headers: { Cookie: "tessera_admin=%ZZ; other=%" } })),
  ...["q=%25", "q=%ZZ", "q=_", "q=%00", "page=-1", "page=99999999999999", "page=abc", "model=%ED%A0%80", "q=" + "a".repeat(5000)].map(
    (qs) => ({ method: "GET", path: `/gallery?${qs}` }),
  ),
  { method: "GET", path: "/admin?next=//evil.example&error=%ZZ&retry=abc" },
  { method: "GET", path: "/?prompt=%ED%A0%80" },
  { method: "POST", path: "/api/health" },
  { method: "GET", path: "/api/health", headers: { Cookie: "tessera_admin=%ZZ" } },
];

function actionPosts(actionId: string): Sent[] {
  const boundary = "----sweep";
  const form = (fields: Record<string, string>) =>
    Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join("") + `--${boundary}--\r\n`;
  const multipart = { "Content-Type": `multipart/form-data; boundary=${boundary}` };
  const action = { "Next-Action": actionId };
  const origin = { Origin: `http://${HOST}` };
  return [
    {
      method: "POST",
      path: "/admin",
      headers: { ...multipart, Origin: "http://evil.example" },
      body: form({ [`$ACTION_ID_${actionId}`]: "", token: "x" }),
    },
    {
      method: "POST",
      path: "/admin",
      headers: { ...multipart, Origin: "null" },
      body: form({ [`$ACTION_ID_${actionId}`]: "", token: "x" }),
    },
    {
      method: "POST",
      path: "/admin",
      headers: { ...multipart, ...origin },
      body: form({ [`$ACTION_ID_${actionId}`]: "", token: "x".repeat(2 ** 20) }),
    },
    { method: "POST", path: "/admin", headers: { ...multipart, ...origin }, body: "garbage" },
    { method: "POST", path: "/admin", headers: { ...multipart, ...origin, ...action }, body: "garbage" },
    { method: "POST", path: "/admin", headers: { "Content-Type": "text/plain;charset=UTF-8", ...origin, ...action }, body: "{{{{" },
    { method: "POST", path: "/admin", headers: { "Content-Type": "text/plain;charset=UTF-8", ...origin, ...action }, body: "[]" },
    { method: "POST", path: "/admin", headers: { "Content-Type": "text/plain;charset=UTF-8", ...origin, ...action }, body: '["$@1"]' },
    {
      method: "POST",
      path: "/admin",
      headers: { "Content-Type": "text/plain;charset=UTF-8", ...origin, "Next-Action": "deadbeef" },
      body: "[]",
    },
    // React reference forms that point at parts a hand-made body does not have (Next answered 500 to them).
    ...["$Q1", "$B1", "$F1", "$1", "$Z", "$", "$i1", "$W1", "$A1", "$K1", "$@1"].flatMap((ref): Sent[] => [
      {
        method: "POST",
        path: "/admin",
        headers: { "Content-Type": "text/plain;charset=UTF-8", ...origin, ...action },
        body: JSON.stringify([ref]),
      },
      {
        method: "POST",
        path: "/admin",
        headers: { ...multipart, ...origin, ...action },
        body: form({ "0": JSON.stringify([ref]), "1_token": "x" }),
      },
    ]),
    { method: "POST", path: "/admin", headers: { "Content-Type": "text/plain", ...origin, ...action }, body: "[]", chunked: true },
    { method: "POST", path: "/gallery", headers: { ...multipart, ...origin }, body: form({ $ACTION_ID_deadbeef: "" }) },
    { method: "POST", path: "/", headers: { "Content-Type": "application/json", ...origin }, body: "{}" },
    { method: "DELETE", path: "/gallery" },
  ];
}

const SECURITY_HEADERS = ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"];

test("a bad-input sweep over every route gets no 5xx, JSON errors from the API, and the security headers", async ({ request }) => {
  test.setTimeout(180_000);
  const admin = await (await request.get("/admin")).text();
  const actionId = /\$ACTION_ID_([0-9a-f]+)/.exec(admin)?.[1];
  expect(actionId).toBeDefined();
  // A real job, so the id routes are also hit with a valid id.
  const created = await request.post("/api/generations", { data: { prompt: "red heart, twemoji", n: 1, seed: 1 } });
  expect(created.status()).toBe(202);
  const { id } = await created.json();
  const sweep: Sent[] = [...[...BAD_IDS, id].flatMap(ID_ROUTES), ...BAD_BODIES, ...PAGE_VARIANTS, ...actionPosts(actionId!)];

  const counts: Record<number, number> = {};
  const failures: string[] = [];
  for (const r of sweep) {
    const got = await send(r).catch((err: Error) => ({ status: -1, headers: {}, body: err.message }) as Got);
    counts[got.status] = (counts[got.status] ?? 0) + 1;
    const where = `${r.method} ${r.path.slice(0, 80)} ${r.headers?.["Content-Type"] ?? ""} → ${got.status}`;
    if (got.status < 100 || got.status >= 500) failures.push(`${where}: ${got.body.slice(0, 200)}`);
    for (const h of SECURITY_HEADERS) if (!got.headers[h]) failures.push(`${where}: no ${h}`);
    if (got.headers["x-powered-by"]) failures.push(`${where}: X-Powered-By sent`);
    if (got.status >= 400 && r.path.startsWith("/api/")) {
      let shape = false;
      try {
        const b = JSON.parse(got.body);
        shape = b?.error?.status === got.status && typeof b.error.message === "string" && !b.error.message.includes(process.cwd());
      } catch {
        // not JSON
      }
      if (!shape) failures.push(`${where}: not the JSON error shape: ${got.body.slice(0, 120)}`);
    }
  }
  console.log(`[sweep] ${sweep.length} requests, responses by status: ${JSON.stringify(counts)}`);
  expect(failures).toEqual([]);
  expect(Object.keys(counts).filter((s) => Number(s) >= 500)).toEqual([]);
});

test("a malformed percent-escape is a 400: JSON for the API, the bad-request page for pages", async ({ page }) => {
  const api = await send({ method: "GET", path: "/api/images/%ZZ" });
  expect(api.status).toBe(400);
  expect(JSON.parse(api.body)).toEqual({ error: { status: 400, message: "the address has a malformed percent-escape" } });
  const res = await page.goto("/gallery/%E0%A4%A");
  expect(res?.status()).toBe(400);
  await expect(page.getByTestId("bad-request")).toBeVisible();
});
