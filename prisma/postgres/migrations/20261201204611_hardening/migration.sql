-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "clientId" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "leaseUntil" TIMESTAMP(3),
ADD COLUMN     "note" TEXT,
ADD COLUMN     "workerId" TEXT;

-- CreateTable
CREATE TABLE "AdminSession" (
    "id" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AdminSession_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "AdminSession_expiresAt_idx" ON "AdminSession"("expiresAt");

-- CreateIndex
CREATE INDEX "Generation_status_leaseUntil_idx" ON "Generation"("status", "leaseUntil");

-- CreateIndex
CREATE INDEX "Generation_clientId_status_idx" ON "Generation"("clientId", "status");

-- Hand-written below (prisma migrate diff knows nothing of them).
-- The re-queue note moves from "error" to "note": a job that finished after a restart has no error.
UPDATE "Generation" SET "note" = "error", "error" = NULL, "attempts" = 1 WHERE "error" LIKE 'interrupted by a server restart; re-queued%';

-- Gallery search: a trigram GIN index makes prompt ILIKE '%q%' (q escaped) an index lookup for 3+ characters.
-- pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX "Generation_prompt_trgm_idx" ON "Generation" USING GIN ("prompt" gin_trgm_ops);
