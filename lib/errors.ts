// Error text fit for users: one meaningful line, without absolute filesystem paths (they tell an attacker the
// layout of the server and tell a user nothing). Paths under the working folder become relative, others lose
// their folders.
import path from "node:path";

export function publicMessage(err: unknown, fallback = "something went wrong"): string {
  const raw = err instanceof Error ? err.message : typeof err === "string" ? err : "";
  // Prisma's messages start with a blank line and end with the driver's reason: keep the last meaningful line.
  const line =
    raw
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? fallback;
  return stripPaths(line);
}

export function stripPaths(text: string, cwd = process.cwd()): string {
  const root = cwd.endsWith(path.sep) ? cwd : cwd + path.sep;
  return text.replaceAll(root, "").replace(/(?:file:)?(?:\/[^\s/"'`:,;()]+){2,}\/?/g, (p) => path.basename(p.replace(/^file:/, "")) || "…");
}
