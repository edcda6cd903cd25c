-- CreateIndex
CREATE INDEX "Generation_status_prompt_idx" ON "Generation"("status", "prompt");
