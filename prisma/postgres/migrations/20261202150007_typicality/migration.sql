-- AlterTable
ALTER TABLE "Image" ADD COLUMN     "atypical" BOOLEAN,
ADD COLUMN     "bitsPerDim" DOUBLE PRECISION;

-- CreateIndex
CREATE INDEX "Image_index_bitsPerDim_idx" ON "Image"("index", "bitsPerDim");
