// Headers sent with every response by the server entry, errors included. The CSP allows inline scripts and styles
// because Next's App Router inlines its hydration data as <script> tags (nonces would need per-request rendering
// of every page through a proxy); everything else is limited to this site, and no other site may frame it.
export function securityHeaders(dev = false): Record<string, string> {
  const csp = [
    "default-src 'self'",
    // 'wasm-unsafe-eval' lets a page compile WebAssembly (onnxruntime-web, for generation in the visitor's browser)
    // and nothing else: eval and new Function stay refused. Single-threaded, so no COEP is needed.
    `script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    // Partial pictures stream in as data: URLs.
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${dev ? " ws: wss:" : ""}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  return {
    "Content-Security-Policy": csp,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
  };
}
