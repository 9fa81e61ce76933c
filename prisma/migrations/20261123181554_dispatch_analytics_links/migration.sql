-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "LogType" ADD VALUE 'WINDOW_OPENED';
ALTER TYPE "LogType" ADD VALUE 'OPT_OUT';
ALTER TYPE "LogType" ADD VALUE 'CONVERSION';

-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "rotation_snapshot" JSONB;

-- AlterTable
ALTER TABLE "campaign_message" ADD COLUMN     "track_links" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "recipient" ADD COLUMN     "conversion_value" DECIMAL(14,2) NOT NULL DEFAULT 0,
ADD COLUMN     "timezone" TEXT;

-- AlterTable
ALTER TABLE "tenant" ADD COLUMN     "health_cooldown_minutes" INTEGER NOT NULL DEFAULT 60,
ADD COLUMN     "health_recovery_per_hour" DOUBLE PRECISION NOT NULL DEFAULT 10;

-- CreateTable
CREATE TABLE "tracked_link" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "message_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tracked_link_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recipient_link" (
    "code" TEXT NOT NULL,
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    "link_id" UUID NOT NULL,
    "click_count" INTEGER NOT NULL DEFAULT 0,
    "first_clicked_at" TIMESTAMPTZ(3),
    "last_clicked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recipient_link_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "link_click" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "clicked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "user_agent" TEXT,
    "ip_hash" TEXT,

    CONSTRAINT "link_click_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "conversion" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "value" DECIMAL(14,2),
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "external_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "conversion_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "tracked_link_campaign_id_idx" ON "tracked_link"("campaign_id");

-- CreateIndex
CREATE UNIQUE INDEX "tracked_link_message_id_url_key" ON "tracked_link"("message_id", "url");

-- CreateIndex
CREATE INDEX "recipient_link_campaign_id_idx" ON "recipient_link"("campaign_id");

-- CreateIndex
CREATE UNIQUE INDEX "recipient_link_recipient_id_link_id_key" ON "recipient_link"("recipient_id", "link_id");

-- CreateIndex
CREATE INDEX "link_click_campaign_id_clicked_at_idx" ON "link_click"("campaign_id", "clicked_at");

-- CreateIndex
CREATE INDEX "link_click_code_idx" ON "link_click"("code");

-- CreateIndex
CREATE INDEX "conversion_campaign_id_occurred_at_idx" ON "conversion"("campaign_id", "occurred_at");

-- CreateIndex
CREATE INDEX "conversion_recipient_id_idx" ON "conversion"("recipient_id");

-- CreateIndex
CREATE UNIQUE INDEX "conversion_tenant_id_external_id_key" ON "conversion"("tenant_id", "external_id");

-- CreateIndex
CREATE INDEX "recipient_campaign_id_message_id_idx" ON "recipient"("campaign_id", "message_id");

-- AddForeignKey
ALTER TABLE "tracked_link" ADD CONSTRAINT "tracked_link_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tracked_link" ADD CONSTRAINT "tracked_link_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tracked_link" ADD CONSTRAINT "tracked_link_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "campaign_message"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient_link" ADD CONSTRAINT "recipient_link_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient_link" ADD CONSTRAINT "recipient_link_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient_link" ADD CONSTRAINT "recipient_link_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "recipient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient_link" ADD CONSTRAINT "recipient_link_link_id_fkey" FOREIGN KEY ("link_id") REFERENCES "tracked_link"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_click" ADD CONSTRAINT "link_click_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_click" ADD CONSTRAINT "link_click_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_click" ADD CONSTRAINT "link_click_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "recipient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "link_click" ADD CONSTRAINT "link_click_code_fkey" FOREIGN KEY ("code") REFERENCES "recipient_link"("code") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversion" ADD CONSTRAINT "conversion_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversion" ADD CONSTRAINT "conversion_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversion" ADD CONSTRAINT "conversion_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "recipient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "conversion" ADD CONSTRAINT "conversion_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;
