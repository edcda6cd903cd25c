// The checked-in PostgreSQL schema and the migration snapshot must follow prisma/schema.prisma; a failure here
// means someone edited the data model without running `npm run db:migration -- <name>`.
import { describe, expect, it } from "vitest";
import { POSTGRES_SCHEMA, SNAPSHOT_SCHEMA, SQLITE_SCHEMA, derivePostgresSchema, readText } from "./prisma-schemas";

const root = process.cwd();

describe("prisma schemas", () => {
  it("the PostgreSQL schema is derived from the SQLite one", () => {
    expect(readText(root, POSTGRES_SCHEMA)).toBe(derivePostgresSchema(readText(root, SQLITE_SCHEMA)));
  });
  it("the newest migrations reflect the current data model", () => {
    expect(readText(root, SNAPSHOT_SCHEMA)).toBe(readText(root, SQLITE_SCHEMA));
  });
  it("derivation switches provider and client output, and refuses a schema it does not recognise", () => {
    const pg = derivePostgresSchema(readText(root, SQLITE_SCHEMA));
    expect(pg).toMatch(/provider = "postgresql"/);
    expect(pg).toMatch(/lib\/generated\/prisma-pg/);
    expect(pg).not.toMatch(/"sqlite"/);
    expect(() => derivePostgresSchema('datasource db { provider = "mysql" }')).toThrow(/expected the SQLite provider/);
  });
});
