-- AlterTable
ALTER TABLE "Image" ADD COLUMN "atypical" BOOLEAN;
ALTER TABLE "Image" ADD COLUMN "bitsPerDim" REAL;

-- CreateIndex
CREATE INDEX "Image_index_bitsPerDim_idx" ON "Image"("index", "bitsPerDim");
