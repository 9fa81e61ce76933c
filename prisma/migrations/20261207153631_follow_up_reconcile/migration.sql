-- Unknown outcomes of follow-ups are resolved against Evolution like those of campaign sends (docs/decisions.md 58).
-- AlterTable
ALTER TABLE "follow_up" ADD COLUMN     "evidence" JSONB,
ADD COLUMN     "reconcile_at" TIMESTAMPTZ(3),
ADD COLUMN     "reconcile_attempts" INTEGER NOT NULL DEFAULT 0;

-- CreateIndex: only the unknown outcomes being resolved (schema.prisma cannot state the predicate)
CREATE INDEX "follow_up_reconcile_at_idx" ON "follow_up"("reconcile_at") WHERE "reconcile_at" IS NOT NULL;
