import { describe, expect, it } from "vitest";
import { z } from "zod";
import { flag, parseArgs, parseFlags } from "./cli";

const Schema = z.object({
  set: z.enum(["emoji", "shapes"]).default("emoji"),
  batchSize: z.coerce.number().int().positive().default(8),
  preview: flag(),
});
const parse = (...argv: string[]) => parseFlags(argv, Schema, "usage: test");

describe("CLI flags", () => {
  it("reads --name value, --name=value, bare booleans and kebab-case names, with defaults", () => {
    expect(parse()).toEqual({ set: "emoji", batchSize: 8, preview: false });
    expect(parse("--set", "shapes", "--batch-size=16", "--preview")).toEqual({ set: "shapes", batchSize: 16, preview: true });
    expect(parse("--preview", "false")).toMatchObject({ preview: false });
  });
  it("rejects unknown flags, stray words and bad values, naming the flag and the usage", () => {
    expect(() => parse("--sett", "shapes")).toThrow(/unknown flag --sett\nusage: test/);
    expect(() => parse("shapes")).toThrow(/unexpected argument "shapes"/);
    expect(() => parse("--set", "cats")).toThrow(/--set: .*"emoji"/);
    expect(() => parse("--batch-size", "-3")).toThrow(/--batch-size: /);
  });

  it("splits positional arguments from the flags after them, and needs at least one", () => {
    expect(parseArgs(["a", "b", "--set", "shapes"], Schema, "usage: test")).toEqual({
      positional: ["a", "b"],
      flags: { set: "shapes", batchSize: 8, preview: false },
    });
    expect(parseArgs(["a"], Schema, "usage: test").positional).toEqual(["a"]);
    expect(() => parseArgs(["--set", "shapes"], Schema, "usage: test")).toThrow(/^usage: test$/);
  });
});
