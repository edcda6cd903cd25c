-- CreateTable
CREATE TABLE "AdminSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Generation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "prompt" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "seed" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "error" TEXT,
    "note" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "workerId" TEXT,
    "leaseUntil" DATETIME,
    "clientId" TEXT NOT NULL DEFAULT '',
    "progress" REAL NOT NULL DEFAULT 0,
    "timings" JSONB,
    "modelVersionId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "Generation_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Generation" ("createdAt", "error", "finishedAt", "id", "modelVersionId", "params", "progress", "prompt", "seed", "startedAt", "status", "timings") SELECT "createdAt", "error", "finishedAt", "id", "modelVersionId", "params", "progress", "prompt", "seed", "startedAt", "status", "timings" FROM "Generation";
DROP TABLE "Generation";
ALTER TABLE "new_Generation" RENAME TO "Generation";
CREATE INDEX "Generation_status_createdAt_idx" ON "Generation"("status", "createdAt");
CREATE INDEX "Generation_status_leaseUntil_idx" ON "Generation"("status", "leaseUntil");
CREATE INDEX "Generation_clientId_status_idx" ON "Generation"("clientId", "status");
CREATE INDEX "Generation_createdAt_idx" ON "Generation"("createdAt");
CREATE INDEX "Generation_modelVersionId_idx" ON "Generation"("modelVersionId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "AdminSession_expiresAt_idx" ON "AdminSession"("expiresAt");

-- Hand-written below (prisma migrate diff knows nothing of them).
-- The re-queue note moves from "error" to "note": a job that finished after a restart has no error.
UPDATE "Generation" SET "note" = "error", "error" = NULL, "attempts" = 1 WHERE "error" LIKE 'interrupted by a server restart; re-queued%';

-- Gallery search: an FTS5 index of the prompts with the trigram tokenizer, so a query of 3+ characters finds any
-- substring (what the old LIKE '%q%' scan found) without reading every row. The index holds the generation's id
-- instead of relying on its implicit rowid, which VACUUM may renumber. Kept in step by triggers: a migration that
-- redefines "Generation" (DROP TABLE + RENAME, as Prisma's SQLite migrations do) drops them and must create them
-- again; lib/db/search.test.ts fails if it does not.
CREATE VIRTUAL TABLE "GenerationSearch" USING fts5("id" UNINDEXED, "prompt", tokenize = 'trigram');
INSERT INTO "GenerationSearch" ("id", "prompt") SELECT "id", "prompt" FROM "Generation";
CREATE TRIGGER "Generation_search_insert" AFTER INSERT ON "Generation" BEGIN
  INSERT INTO "GenerationSearch" ("id", "prompt") VALUES (new."id", new."prompt");
END;
CREATE TRIGGER "Generation_search_delete" AFTER DELETE ON "Generation" BEGIN
  DELETE FROM "GenerationSearch" WHERE "id" = old."id";
END;
CREATE TRIGGER "Generation_search_update" AFTER UPDATE OF "prompt" ON "Generation" BEGIN
  UPDATE "GenerationSearch" SET "prompt" = new."prompt" WHERE "id" = old."id";
END;
