-- AlterTable
ALTER TABLE "Generation" ADD COLUMN "source" BLOB;

-- AlterTable
ALTER TABLE "Image" ADD COLUMN "codes" BLOB;
