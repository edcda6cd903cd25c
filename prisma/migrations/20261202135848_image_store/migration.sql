-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Image" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "generationId" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "png" BLOB,
    "storeKey" TEXT,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "score" REAL,
    "rejected" BOOLEAN NOT NULL DEFAULT false,
    "embedding" BLOB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Image_generationId_fkey" FOREIGN KEY ("generationId") REFERENCES "Generation" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Image" ("createdAt", "embedding", "generationId", "height", "id", "index", "png", "rejected", "score", "width") SELECT "createdAt", "embedding", "generationId", "height", "id", "index", "png", "rejected", "score", "width" FROM "Image";
DROP TABLE "Image";
ALTER TABLE "new_Image" RENAME TO "Image";
CREATE UNIQUE INDEX "Image_generationId_index_key" ON "Image"("generationId", "index");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
