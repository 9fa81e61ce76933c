-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "typing_delay_ms" INTEGER NOT NULL DEFAULT 0;
