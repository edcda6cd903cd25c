-- AlterTable
ALTER TABLE "Image" ADD COLUMN     "storeKey" TEXT,
ALTER COLUMN "png" DROP NOT NULL;
