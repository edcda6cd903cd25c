-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "candidates" INTEGER;

-- AlterTable
ALTER TABLE "Image" ADD COLUMN     "embedding" BYTEA,
ADD COLUMN     "rejected" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "score" DOUBLE PRECISION;
