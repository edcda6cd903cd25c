// Whether a folder takes new files right now, for the health report: the database's folder (SQLite creates its
// journal and WAL files there) and the image folder. Proved by writing and removing a small file, because only a
// write tells: permissions do not (root ignores them), an immutable flag (chattr +i) or a read-only mount do.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { publicMessage } from "../errors";

/** Null when a file can be created and removed in `dir`, else why not (a message without the folder's path). */
export async function folderRefusesWrites(dir: string): Promise<string | null> {
  const probe = path.join(dir, `.health-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await fs.promises.writeFile(probe, "");
    await fs.promises.rm(probe);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: cannot write into it` : publicMessage(err);
  }
}
