// Command-line flags for the offline scripts: `--name value`, `--name=value` and bare boolean `--name`, validated
// by a zod object schema so that a typo or a bad value stops the script with a message saying what is accepted.
import { z } from "zod";

export function parseFlags<S extends z.ZodObject>(argv: string[], schema: S, usage: string): z.infer<S> {
  const known = new Set(Object.keys(schema.shape));
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument "${argv[i]}"\n${usage}`);
    const key = m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!known.has(key)) throw new Error(`unknown flag --${m[1]}\n${usage}`);
    if (m[2] !== undefined) raw[key] = m[2];
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) raw[key] = argv[++i];
    else raw[key] = true;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (i) => `--${String(i.path[0] ?? "").replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`,
    );
    throw new Error(`${issues.join("; ")}\n${usage}`);
  }
  return parsed.data;
}

/**
 * `<positional …> [--flag value …]`: the arguments before the first flag, and the flags parsed as parseFlags does.
 * At least one positional argument is required.
 */
export function parseArgs<S extends z.ZodObject>(argv: string[], schema: S, usage: string): { positional: string[]; flags: z.infer<S> } {
  const firstFlag = argv.findIndex((a) => a.startsWith("--"));
  const positional = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
  if (!positional.length) throw new Error(usage);
  return { positional, flags: parseFlags(firstFlag < 0 ? [] : argv.slice(firstFlag), schema, usage) };
}

/** A boolean flag: bare `--flag`, or `--flag true|false`. */
export const flag = () => z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(false);

/** A comma-separated list of numbers ≥ 0 (`--guidance 1,1.5,3`), for the evals' sweeps. */
export const numberList = (what: string) =>
  z.string().transform((s, ctx) => {
    const v = s.split(",").map((x) => Number(x.trim()));
    if (!v.length || v.some((x) => !Number.isFinite(x) || x < 0))
      ctx.addIssue({ code: "custom", message: `${what}: a comma-separated list of numbers ≥ 0, got "${s}"` });
    return v;
  });

/** Runs a script's main, printing only the message of an error (no stack) and exiting non-zero. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(`[${name}] ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.TESSERA_DEBUG && err instanceof Error) console.error(err.stack);
    process.exit(1);
  });
}
