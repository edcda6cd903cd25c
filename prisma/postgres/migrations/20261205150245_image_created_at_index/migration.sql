-- CreateIndex
CREATE INDEX "Image_createdAt_idx" ON "Image"("createdAt");
