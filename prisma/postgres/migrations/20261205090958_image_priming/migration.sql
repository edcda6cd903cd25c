-- AlterTable
ALTER TABLE "Generation" ADD COLUMN     "source" BYTEA;

-- AlterTable
ALTER TABLE "Image" ADD COLUMN     "codes" BYTEA;
