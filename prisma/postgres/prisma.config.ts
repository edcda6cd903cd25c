// Prisma CLI configuration for PostgreSQL (DATABASE_URL=postgresql://…). Used by `npm install` to generate the
// PostgreSQL client. Its migrations are applied by scripts/start.ts through `pg`, because `prisma migrate deploy`
// with the pg driver adapter fails on Prisma 6.19 (prisma/prisma#27403).
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "schema.prisma", // paths resolve against this file's folder
  migrations: { path: "migrations" },
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL ?? "postgresql://localhost/tessera" });
  },
});
