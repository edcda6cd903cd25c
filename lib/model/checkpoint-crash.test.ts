// A checkpoint survives a kill -9 at every point of a save: a child process saves version 2 over version 1 and
// SIGKILLs itself at one crash point; the folder then loads (its sha256 verified) as the version that point
// allows, with the files its owner put beside the weights, and the next save leaves nothing of the killed one.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crashPointsIn, deadPid, saveInChildren, type ChildResult, type ChildJob } from "../../test/fixtures/kill-child";
import { selectBackend } from "../tensor/backend";
import { loadCheckpoint, readCheckpointManifest, saveCheckpoint } from "./checkpoint";

// Every point of replacing a checkpoint, and the version that must load after a kill there: the old one until the
// old folder is set aside, the new one from then on (at "old-set-aside" neither is at `dir`: recovery's work).
const RESAVE: [string, number][] = [
  ["checkpoint:weights-partly-written@1", 1],
  ["checkpoint:extras-copied@1", 1],
  ["checkpoint:manifest-partly-written@1", 1],
  ["checkpoint:tmp-complete@1", 1],
  ["swap:old-set-aside@1", 2],
  ["swap:new-in-place@1", 2],
  ["remove:manifest-removed@1", 2],
];
// A first save has no old folder: until its tmp is complete there is no checkpoint at all, never a broken one, and
// a complete tmp with nothing at `dir` is recovered.
const FIRST: [string, number | null][] = [
  ["checkpoint:weights-partly-written@1", null],
  ["checkpoint:extras-copied@1", null],
  ["checkpoint:manifest-partly-written@1", null],
  ["checkpoint:tmp-complete@1", 2],
  ["swap:new-in-place@1", 2],
];

let root: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-ckpt-crash-"));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const save = (dir: string, version: number) =>
  saveCheckpoint(
    dir,
    new Map([
      ["a", tf.fill([3], version)],
      ["b", tf.fill([2, 2], version)],
    ]),
    { kind: "crash-test", config: {}, step: version },
  );

/** The version a folder holds, after checking that its manifest's step and every weight agree on it. */
function versionIn(dir: string): number {
  const { manifest, tensors } = loadCheckpoint(dir);
  const values = new Set([...tensors.values()].flatMap((t) => Array.from(t.dataSync())));
  tf.dispose([...tensors.values()]);
  expect([...values]).toEqual([manifest.step]);
  return manifest.step;
}

/** A version 1 folder with what owners keep beside the weights: a tokenizer and a folder of sheets. */
async function firstVersion(name: string): Promise<string> {
  const dir = path.join(root, name, "model");
  await save(dir, 1);
  fs.writeFileSync(path.join(dir, "tokenizer.json"), '{"v":1}');
  fs.mkdirSync(path.join(dir, "sheets"));
  fs.writeFileSync(path.join(dir, "sheets", "s.png"), "png");
  return dir;
}

function expectOwnerFiles(dir: string): void {
  expect(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")).toBe('{"v":1}');
  expect(fs.readFileSync(path.join(dir, "sheets", "s.png"), "utf8")).toBe("png");
}

describe("a checkpoint killed mid-save", () => {
  const listFirst = () => path.join(root, "list-first", "model");
  const listResave = () => path.join(root, "list", "model");
  const resaveDir = (point: string) => path.join(root, `resave-${point}`, "model");
  const firstDir = (point: string) => path.join(root, `first-${point}`, "model");
  /** What the child saving into each folder ended with. */
  const children = new Map<string, ChildResult>();
  function childOf(dir: string): ChildResult {
    const r = children.get(dir);
    if (!r) throw new Error(`no child saved into ${dir}: the set-up above failed`);
    return r;
  }

  // The children all start here, a few at a time (each its own process, killed at its own point); the tests below
  // judge what each left.
  beforeAll(async () => {
    const jobs: ChildJob[] = [
      { mode: "checkpoint", dir: listFirst(), version: 1, crashAt: "list" },
      { mode: "checkpoint", dir: await firstVersion("list"), version: 2, crashAt: "list" },
    ];
    for (const [point] of RESAVE) jobs.push({ mode: "checkpoint", dir: await firstVersion(`resave-${point}`), version: 2, crashAt: point });
    for (const [point] of FIRST) jobs.push({ mode: "checkpoint", dir: firstDir(point), version: 2, crashAt: point });
    const results = await saveInChildren(jobs);
    jobs.forEach((job, i) => children.set(job.dir, results[i]));
  }, 180_000);

  it("has these crash points and no others", () => {
    expect(crashPointsIn(childOf(listFirst()))).toEqual(FIRST.map(([p]) => p));
    expect(crashPointsIn(childOf(listResave()))).toEqual(RESAVE.map(([p]) => p));
  });

  it.each(RESAVE)("killed at %s while replacing version 1, loads as version %i", async (point, expected) => {
    const dir = resaveDir(point);
    const r = childOf(dir);
    expect(r.signal, r.stderr).toBe("SIGKILL");
    expect(fs.existsSync(dir)).toBe(point !== "swap:old-set-aside@1");
    expect(versionIn(dir)).toBe(expected);
    expectOwnerFiles(dir);
    await save(dir, 3);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(["model"]);
    expect(versionIn(dir)).toBe(3);
    expectOwnerFiles(dir);
  });

  it.each(FIRST)("killed at %s in a first save, holds %s", async (point, expected) => {
    const dir = firstDir(point);
    const r = childOf(dir);
    expect(r.signal, r.stderr).toBe("SIGKILL");
    if (expected === null) expect(() => readCheckpointManifest(dir)).toThrow(/cannot read checkpoint manifest/);
    else expect(versionIn(dir)).toBe(expected);
    await save(dir, 3);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(["model"]);
  });
});

describe("recovery", () => {
  /** Moves a fresh save of `version` to `name` beside `dir`, as a killed save would have left it. */
  async function leftover(dir: string, name: string, version: number): Promise<string> {
    const scratch = path.join(root, "scratch", name);
    await save(scratch, version);
    const to = path.join(path.dirname(dir), name);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(scratch, to);
    return to;
  }

  it("takes the complete tmp over the old: the save had finished writing it", async () => {
    const dir = path.join(root, "tmp-wins", "model");
    const pid = deadPid();
    await leftover(dir, `.model.old-${pid}`, 1);
    await leftover(dir, `.model.tmp-${pid}`, 2);
    expect(versionIn(dir)).toBe(2);
    await save(dir, 3);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(["model"]);
  });

  it("never takes a torn tmp: a manifest whose weights do not match loses to the old", async () => {
    const dir = path.join(root, "torn-tmp", "model");
    const pid = deadPid();
    await leftover(dir, `.model.old-${pid}`, 1);
    const tmp = await leftover(dir, `.model.tmp-${pid}`, 2);
    fs.truncateSync(path.join(tmp, "weights.bin"), 20);
    expect(versionIn(dir)).toBe(1);
    // Once the folder is whole, what cannot be recovered goes.
    expect(fs.readdirSync(path.dirname(dir))).toEqual(["model"]);
  });

  it("leaves the leftovers of a live process alone while the folder is whole", async () => {
    const dir = path.join(root, "live", "model");
    await save(dir, 1);
    const theirs = await leftover(dir, `.model.tmp-${process.ppid}`, 2);
    await save(dir, 3);
    expect(fs.existsSync(theirs)).toBe(true);
    expect(versionIn(dir)).toBe(3);
  });

  it("loads a shipped folder without writing beside it", () => {
    const before = fs.readdirSync("models");
    expect(readCheckpointManifest(path.join("models", "image-tokenizer")).weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    const { tensors } = loadCheckpoint(path.join("models", "image-tokenizer"));
    tf.dispose([...tensors.values()]);
    expect(fs.readdirSync("models")).toEqual(before);
  });
});
