-- CreateEnum
CREATE TYPE "SkipReason" AS ENUM ('OPTED_OUT', 'BLOCKED', 'NOT_ON_WHATSAPP', 'NO_OPT_IN', 'FREQUENCY_CAP', 'EXPIRED', 'CAMPAIGN_CANCELLED', 'CONTACT_DELETED');

-- CreateEnum
CREATE TYPE "ConsentSource" AS ENUM ('IMPORT', 'API', 'KEYWORD');

-- CreateEnum
CREATE TYPE "ConsentKind" AS ENUM ('OPT_IN', 'OPT_OUT');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "LogType" ADD VALUE 'OPT_IN';
ALTER TYPE "LogType" ADD VALUE 'RECIPIENT_SKIPPED';
ALTER TYPE "LogType" ADD VALUE 'RECIPIENT_DEFERRED';

-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "expire_after_minutes" INTEGER,
ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "frequency_cap_exempt" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "frequency_cap_hours" INTEGER,
ADD COLUMN     "frequency_cap_messages" INTEGER;

-- AlterTable
ALTER TABLE "campaign_message" DROP COLUMN "usage_count";

-- AlterTable
ALTER TABLE "contact" ADD COLUMN     "opt_in_source" "ConsentSource",
ADD COLUMN     "opt_out_source" "ConsentSource",
ADD COLUMN     "opted_in_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "recipient" ADD COLUMN     "skip_reason" "SkipReason";

-- AlterTable
ALTER TABLE "tenant" ADD COLUMN     "frequency_cap_hours" INTEGER,
ADD COLUMN     "frequency_cap_messages" INTEGER,
ADD COLUMN     "opt_in_keywords" TEXT[] DEFAULT ARRAY['SIM', 'START']::TEXT[],
ADD COLUMN     "opt_in_reply" TEXT,
ADD COLUMN     "opt_out_reply" TEXT,
ADD COLUMN     "require_opt_in" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "consent_event" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "kind" "ConsentKind" NOT NULL,
    "source" "ConsentSource" NOT NULL,
    "detail" JSONB NOT NULL DEFAULT '{}',
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "consent_event_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "consent_event_contact_id_at_idx" ON "consent_event"("contact_id", "at");

-- AddForeignKey
ALTER TABLE "consent_event" ADD CONSTRAINT "consent_event_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "consent_event" ADD CONSTRAINT "consent_event_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The reasons of recipients skipped before reasons were typed, from the text they were skipped with.
UPDATE "recipient" SET "skip_reason" = CASE
    WHEN "error" = 'campaign cancelled' THEN 'CAMPAIGN_CANCELLED'
    WHEN "error" LIKE 'contact opted out%' THEN 'OPTED_OUT'
    WHEN "error" = 'contact blocked' THEN 'BLOCKED'
    WHEN "error" = 'contact deleted' THEN 'CONTACT_DELETED'
    END::"SkipReason"
WHERE "status" = 'SKIPPED';
