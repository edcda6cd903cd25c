// `npm run db:migration -- <name>`: turns the edits made to prisma/schema.prisma into checked-in SQL migrations for
// both SQLite and PostgreSQL. `prisma migrate dev` does not work with driver adapters, so the SQL comes from
// `prisma migrate diff` between the last migrated data model (prisma/snapshot.prisma) and the current one.
// With the pg adapter, Prisma 6.19 connects even for a schema-to-schema diff: set DATABASE_URL to any reachable
// PostgreSQL database (nothing is written to it), e.g. `apt-get install -y postgresql` and a scratch database.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { MIGRATIONS, POSTGRES_SCHEMA, SNAPSHOT_SCHEMA, SQLITE_SCHEMA, derivePostgresSchema, readText } from "./prisma-schemas";

const root = process.cwd();
const name = z
  .string({ error: "usage: npm run db:migration -- <name>   (lower-case letters, digits and _)" })
  .regex(/^[a-z0-9_]+$/, "the migration name may hold only lower-case letters, digits and _")
  .parse(process.argv[2]);

const current = readText(root, SQLITE_SCHEMA);
fs.writeFileSync(path.join(root, POSTGRES_SCHEMA), derivePostgresSchema(current));

const hasSnapshot = fs.existsSync(path.join(root, SNAPSHOT_SCHEMA));
if (hasSnapshot && readText(root, SNAPSHOT_SCHEMA) === current) {
  console.log("prisma/schema.prisma has not changed since the last migration: nothing to do.");
  process.exit(0);
}

const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-migration-"));
const prisma = path.join(root, "node_modules", ".bin", "prisma");

const targets = [
  { provider: "sqlite", config: "prisma.config.ts", to: SQLITE_SCHEMA, dir: MIGRATIONS.sqlite },
  { provider: "postgresql", config: path.join("prisma", "postgres", "prisma.config.ts"), to: POSTGRES_SCHEMA, dir: MIGRATIONS.postgresql },
] as const;

for (const t of targets) {
  const from: string[] = [];
  if (hasSnapshot) {
    const snapshot = readText(root, SNAPSHOT_SCHEMA);
    const prev = path.join(tmp, `${t.provider}.prisma`);
    fs.writeFileSync(prev, t.provider === "sqlite" ? snapshot : derivePostgresSchema(snapshot));
    from.push("--from-schema-datamodel", prev);
  } else {
    from.push("--from-empty");
  }
  const out = path.join(root, t.dir, `${stamp}_${name}`, "migration.sql");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  execFileSync(prisma, ["migrate", "diff", "--config", t.config, ...from, "--to-schema-datamodel", t.to, "--script", "-o", out], {
    stdio: "inherit",
  });
  const lock = path.join(root, t.dir, "migration_lock.toml");
  if (!fs.existsSync(lock)) fs.writeFileSync(lock, `provider = "${t.provider}"\n`);
  console.log(`wrote ${path.relative(root, out)}`);
}
fs.copyFileSync(path.join(root, SQLITE_SCHEMA), path.join(root, SNAPSHOT_SCHEMA));
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`updated ${SNAPSHOT_SCHEMA}; commit the migrations, the snapshot and ${POSTGRES_SCHEMA}.`);
