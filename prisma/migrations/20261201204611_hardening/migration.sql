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

-- Gallery search: an FTS5 index of the prompts of finished generations, with the trigram tokenizer, so a query of
-- 3+ characters finds any substring (what the old LIKE '%q%' scan found) without reading the generations table:
-- the page (newest first = highest rowid: rows enter when their job finishes) and the count come from the index
-- alone. It holds the generation's id and model instead of relying on the implicit rowid, which VACUUM may
-- renumber. Kept in step by triggers: a migration that redefines "Generation" (DROP TABLE + RENAME, as Prisma's
-- SQLite migrations do) drops them and must create them again; lib/db/search.test.ts fails if it does not.
CREATE VIRTUAL TABLE "GenerationSearch" USING fts5("id" UNINDEXED, "modelVersionId" UNINDEXED, "prompt", tokenize = 'trigram');
INSERT INTO "GenerationSearch" ("id", "modelVersionId", "prompt")
  SELECT "id", "modelVersionId", "prompt" FROM "Generation" WHERE "status" = 'done' ORDER BY "createdAt", "id";
CREATE TRIGGER "Generation_search_insert" AFTER INSERT ON "Generation" WHEN new."status" = 'done' BEGIN
  INSERT INTO "GenerationSearch" ("id", "modelVersionId", "prompt") VALUES (new."id", new."modelVersionId", new."prompt");
END;
CREATE TRIGGER "Generation_search_finish" AFTER UPDATE OF "status" ON "Generation" WHEN new."status" = 'done' AND old."status" <> 'done' BEGIN
  INSERT INTO "GenerationSearch" ("id", "modelVersionId", "prompt") VALUES (new."id", new."modelVersionId", new."prompt");
END;
CREATE TRIGGER "Generation_search_unfinish" AFTER UPDATE OF "status" ON "Generation" WHEN old."status" = 'done' AND new."status" <> 'done' BEGIN
  DELETE FROM "GenerationSearch" WHERE "id" = old."id";
END;
-- Deletes scan the index's own table (the id is not indexed): fine for an admin's occasional delete.
CREATE TRIGGER "Generation_search_delete" AFTER DELETE ON "Generation" WHEN old."status" = 'done' BEGIN
  DELETE FROM "GenerationSearch" WHERE "id" = old."id";
END;
CREATE TRIGGER "Generation_search_edit" AFTER UPDATE OF "prompt", "modelVersionId" ON "Generation" WHEN new."status" = 'done' AND old."status" = 'done' BEGIN
  UPDATE "GenerationSearch" SET "prompt" = new."prompt", "modelVersionId" = new."modelVersionId" WHERE "id" = old."id";
END;
