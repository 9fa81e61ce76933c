-- CreateEnum
CREATE TYPE "ApiKeyRole" AS ENUM ('ADMIN', 'OPERATOR', 'VIEWER');

-- CreateEnum
CREATE TYPE "CampaignStatus" AS ENUM ('DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "CampaignObjective" AS ENUM ('PROMOTIONAL', 'ENGAGEMENT', 'CONVERSION', 'RETENTION', 'TRANSACTIONAL', 'INFORMATIONAL');

-- CreateEnum
CREATE TYPE "RotationMode" AS ENUM ('ROUND_ROBIN', 'BALANCED', 'INTELLIGENT');

-- CreateEnum
CREATE TYPE "AudienceType" AS ENUM ('ALL', 'SEGMENT', 'RULES', 'CONTACTS');

-- CreateEnum
CREATE TYPE "Recurrence" AS ENUM ('NONE', 'DAILY', 'WEEKLY', 'MONTHLY');

-- CreateEnum
CREATE TYPE "TimezoneMode" AS ENUM ('TENANT', 'CONTACT');

-- CreateEnum
CREATE TYPE "AbMetric" AS ENUM ('READ_RATE', 'REPLY_RATE', 'CLICK_RATE', 'CONVERSION_RATE');

-- CreateEnum
CREATE TYPE "RecipientStatus" AS ENUM ('PENDING', 'QUEUED', 'SENDING', 'SENT', 'DELIVERED', 'READ', 'FAILED', 'SKIPPED', 'UNKNOWN');

-- CreateEnum
CREATE TYPE "MediaType" AS ENUM ('IMAGE', 'VIDEO', 'AUDIO', 'DOCUMENT');

-- CreateEnum
CREATE TYPE "ConnectionState" AS ENUM ('OPEN', 'CONNECTING', 'CLOSE', 'REFUSED', 'UNKNOWN');

-- CreateEnum
CREATE TYPE "LogType" AS ENUM ('CREATED', 'UPDATED', 'SCHEDULED', 'STARTED', 'PAUSED', 'RESUMED', 'COMPLETED', 'CANCELLED', 'INSTANCE_SELECTED', 'INSTANCE_PAUSED', 'INSTANCE_RESUMED', 'MESSAGE_SENT', 'MESSAGE_DELIVERED', 'MESSAGE_READ', 'MESSAGE_FAILED', 'MESSAGE_REPLIED', 'OUTCOME_UNKNOWN', 'ROTATION_CHANGED', 'CONTACT_ADDED', 'CONTACT_REMOVED', 'LIMIT_REACHED', 'HEALTH_ISSUE', 'WINDOW_CLOSED', 'AB_WINNER', 'FOLLOW_UP_SENT', 'ERROR');

-- CreateEnum
CREATE TYPE "LogSeverity" AS ENUM ('INFO', 'WARNING', 'ERROR', 'CRITICAL');

-- CreateEnum
CREATE TYPE "FollowUpStatus" AS ENUM ('PENDING', 'SENT', 'CANCELLED', 'FAILED');

-- CreateEnum
CREATE TYPE "ImportStatus" AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');

-- CreateEnum
CREATE TYPE "MergeStrategy" AS ENUM ('SKIP', 'UPDATE', 'REPLACE');

-- CreateTable
CREATE TABLE "tenant" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "country" TEXT NOT NULL DEFAULT 'BR',
    "region" TEXT,
    "timezone" TEXT NOT NULL DEFAULT 'America/Sao_Paulo',
    "health_pause_threshold" INTEGER NOT NULL DEFAULT 50,
    "reply_window_hours" INTEGER NOT NULL DEFAULT 72,
    "opt_out_keywords" TEXT[] DEFAULT ARRAY['SAIR', 'PARAR', 'STOP', 'CANCELAR']::TEXT[],
    "custom_field_keys" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "tenant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_key" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "role" "ApiKeyRole" NOT NULL,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evolution_server" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "base_url" TEXT NOT NULL,
    "api_key_encrypted" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "evolution_server_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whatsapp_instance" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "server_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "phone" TEXT,
    "connection_state" "ConnectionState" NOT NULL DEFAULT 'UNKNOWN',
    "connection_state_at" TIMESTAMPTZ(3),
    "webhook_secret" TEXT NOT NULL,
    "jwt_key_encrypted" TEXT,
    "qr_code" TEXT,
    "qr_code_at" TIMESTAMPTZ(3),
    "profile_name" TEXT,
    "limit_per_minute" INTEGER NOT NULL DEFAULT 20,
    "limit_per_hour" INTEGER NOT NULL DEFAULT 500,
    "limit_per_day" INTEGER NOT NULL DEFAULT 5000,
    "min_delay_ms" INTEGER NOT NULL DEFAULT 1000,
    "max_delay_ms" INTEGER NOT NULL DEFAULT 3000,
    "warmup_enabled" BOOLEAN NOT NULL DEFAULT false,
    "warmup_start_per_day" INTEGER NOT NULL DEFAULT 50,
    "warmup_increment_per_day" INTEGER NOT NULL DEFAULT 50,
    "warmup_started_at" TIMESTAMPTZ(3),
    "manually_paused" BOOLEAN NOT NULL DEFAULT false,
    "paused_reason" TEXT,
    "paused_at" TIMESTAMPTZ(3),
    "auto_paused_at" TIMESTAMPTZ(3),
    "readmitted_at" TIMESTAMPTZ(3),
    "health_score" DOUBLE PRECISION NOT NULL DEFAULT 100,
    "sent_today" INTEGER NOT NULL DEFAULT 0,
    "delivered_today" INTEGER NOT NULL DEFAULT 0,
    "read_today" INTEGER NOT NULL DEFAULT 0,
    "failed_today" INTEGER NOT NULL DEFAULT 0,
    "consecutive_errors" INTEGER NOT NULL DEFAULT 0,
    "last_success_at" TIMESTAMPTZ(3),
    "last_health_update_at" TIMESTAMPTZ(3),
    "last_daily_reset_at" TIMESTAMPTZ(3),
    "total_sent" INTEGER NOT NULL DEFAULT 0,
    "total_delivered" INTEGER NOT NULL DEFAULT 0,
    "total_read" INTEGER NOT NULL DEFAULT 0,
    "total_failed" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "whatsapp_instance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contact" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "phone" TEXT NOT NULL,
    "name" TEXT,
    "email" TEXT,
    "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "custom_fields" JSONB NOT NULL DEFAULT '{}',
    "timezone" TEXT,
    "referred_by" TEXT,
    "opted_out" BOOLEAN NOT NULL DEFAULT false,
    "opted_out_at" TIMESTAMPTZ(3),
    "blocked" BOOLEAN NOT NULL DEFAULT false,
    "not_on_whatsapp" BOOLEAN NOT NULL DEFAULT false,
    "last_interaction_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "contact_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "segment" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "rules" JSONB NOT NULL,
    "system_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "segment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "holiday" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "date" DATE NOT NULL,
    "name" TEXT NOT NULL,
    "yearly" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "holiday_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contact_import" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "idempotency_key" TEXT,
    "status" "ImportStatus" NOT NULL DEFAULT 'PENDING',
    "format" TEXT NOT NULL,
    "strategy" "MergeStrategy" NOT NULL DEFAULT 'UPDATE',
    "options" JSONB NOT NULL DEFAULT '{}',
    "payload" TEXT,
    "total_rows" INTEGER NOT NULL DEFAULT 0,
    "processed_rows" INTEGER NOT NULL DEFAULT 0,
    "created_count" INTEGER NOT NULL DEFAULT 0,
    "updated_count" INTEGER NOT NULL DEFAULT 0,
    "skipped_count" INTEGER NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "failures" JSONB NOT NULL DEFAULT '[]',
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "contact_import_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaign" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "objective" "CampaignObjective" NOT NULL DEFAULT 'PROMOTIONAL',
    "status" "CampaignStatus" NOT NULL DEFAULT 'DRAFT',
    "rotation_mode" "RotationMode" NOT NULL DEFAULT 'INTELLIGENT',
    "audience_type" "AudienceType" NOT NULL DEFAULT 'ALL',
    "audience_segment_id" UUID,
    "audience_rules" JSONB,
    "audience_contact_ids" UUID[] DEFAULT ARRAY[]::UUID[],
    "scheduled_at" TIMESTAMPTZ(3),
    "recurrence" "Recurrence" NOT NULL DEFAULT 'NONE',
    "recurrence_interval" INTEGER NOT NULL DEFAULT 1,
    "recurrence_end_after" INTEGER,
    "recurrence_end_at" TIMESTAMPTZ(3),
    "occurrence" INTEGER NOT NULL DEFAULT 1,
    "parent_campaign_id" UUID,
    "window_start_minute" INTEGER,
    "window_end_minute" INTEGER,
    "window_weekdays" INTEGER[] DEFAULT ARRAY[1, 2, 3, 4, 5, 6, 7]::INTEGER[],
    "respect_holidays" BOOLEAN NOT NULL DEFAULT false,
    "holiday_country" TEXT,
    "holiday_region" TEXT,
    "timezone_mode" "TimezoneMode" NOT NULL DEFAULT 'TENANT',
    "resumes_at" TIMESTAMPTZ(3),
    "min_delay_ms" INTEGER,
    "max_delay_ms" INTEGER,
    "max_attempts" INTEGER NOT NULL DEFAULT 3,
    "error_threshold" INTEGER NOT NULL DEFAULT 20,
    "consecutive_errors" INTEGER NOT NULL DEFAULT 0,
    "rotation_cursor" INTEGER NOT NULL DEFAULT 0,
    "ab_enabled" BOOLEAN NOT NULL DEFAULT false,
    "ab_test_share" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "ab_metric" "AbMetric" NOT NULL DEFAULT 'READ_RATE',
    "ab_min_sample" INTEGER NOT NULL DEFAULT 100,
    "ab_significance" DOUBLE PRECISION NOT NULL DEFAULT 0.95,
    "ab_auto_winner" BOOLEAN NOT NULL DEFAULT true,
    "ab_winner_message_id" UUID,
    "ab_decided_at" TIMESTAMPTZ(3),
    "targeted_count" INTEGER NOT NULL DEFAULT 0,
    "sent_count" INTEGER NOT NULL DEFAULT 0,
    "delivered_count" INTEGER NOT NULL DEFAULT 0,
    "read_count" INTEGER NOT NULL DEFAULT 0,
    "replied_count" INTEGER NOT NULL DEFAULT 0,
    "clicked_count" INTEGER NOT NULL DEFAULT 0,
    "converted_count" INTEGER NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "skipped_count" INTEGER NOT NULL DEFAULT 0,
    "unknown_count" INTEGER NOT NULL DEFAULT 0,
    "remaining_count" INTEGER NOT NULL DEFAULT 0,
    "send_duration_ms_total" BIGINT NOT NULL DEFAULT 0,
    "version" BIGINT NOT NULL DEFAULT 0,
    "cost" DECIMAL(14,2),
    "conversion_value" DECIMAL(14,2) NOT NULL DEFAULT 0,
    "pause_reason" TEXT,
    "created_by" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "paused_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "cancelled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "campaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaign_instance" (
    "campaign_id" UUID NOT NULL,
    "instance_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaign_instance_pkey" PRIMARY KEY ("campaign_id","instance_id")
);

-- CreateTable
CREATE TABLE "campaign_message" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "sort_order" INTEGER NOT NULL DEFAULT 0,
    "text" TEXT NOT NULL,
    "media_type" "MediaType",
    "media_url" TEXT,
    "media_mimetype" TEXT,
    "media_file_name" TEXT,
    "ab_variant" TEXT,
    "ab_weight" DOUBLE PRECISION,
    "usage_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "campaign_message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "recipient" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "phone" TEXT NOT NULL,
    "status" "RecipientStatus" NOT NULL DEFAULT 'QUEUED',
    "instance_id" UUID,
    "message_id" UUID,
    "ab_variant" TEXT,
    "rendered_text" TEXT,
    "provider_message_id" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "claim_token" TEXT,
    "error_code" TEXT,
    "error" TEXT,
    "not_before" TIMESTAMPTZ(3),
    "send_duration_ms" INTEGER,
    "queued_at" TIMESTAMPTZ(3),
    "sending_at" TIMESTAMPTZ(3),
    "sent_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "read_at" TIMESTAMPTZ(3),
    "played_at" TIMESTAMPTZ(3),
    "failed_at" TIMESTAMPTZ(3),
    "skipped_at" TIMESTAMPTZ(3),
    "replied_at" TIMESTAMPTZ(3),
    "clicked_at" TIMESTAMPTZ(3),
    "converted_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recipient_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "campaign_log" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID,
    "type" "LogType" NOT NULL,
    "severity" "LogSeverity" NOT NULL DEFAULT 'INFO',
    "message" TEXT NOT NULL,
    "details" JSONB,
    "instance_id" UUID,
    "contact_id" UUID,
    "recipient_id" UUID,
    "duration_ms" INTEGER,
    "request" JSONB,
    "response" JSONB,
    "http_status" INTEGER,
    "progress" JSONB,
    "health" JSONB,
    "actor" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "campaign_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pending_receipt" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "instance_id" UUID NOT NULL,
    "key_id" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pending_receipt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "follow_up_rule" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "after_days" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "media_type" "MediaType",
    "media_url" TEXT,
    "media_mimetype" TEXT,
    "media_file_name" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "follow_up_rule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "follow_up" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "campaign_id" UUID NOT NULL,
    "rule_id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "status" "FollowUpStatus" NOT NULL DEFAULT 'PENDING',
    "due_at" TIMESTAMPTZ(3) NOT NULL,
    "instance_id" UUID,
    "provider_message_id" TEXT,
    "rendered_text" TEXT,
    "error" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "cancelled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "follow_up_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reply" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "instance_id" UUID NOT NULL,
    "contact_id" UUID,
    "campaign_id" UUID,
    "recipient_id" UUID,
    "provider_message_id" TEXT NOT NULL,
    "phone" TEXT NOT NULL,
    "text" TEXT,
    "message_type" TEXT,
    "is_opt_out" BOOLEAN NOT NULL DEFAULT false,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reply_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_key_hash_key" ON "api_key"("hash");

-- CreateIndex
CREATE INDEX "api_key_tenant_id_created_at_idx" ON "api_key"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "evolution_server_tenant_id_name_key" ON "evolution_server"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_instance_webhook_secret_key" ON "whatsapp_instance"("webhook_secret");

-- CreateIndex
CREATE INDEX "whatsapp_instance_tenant_id_created_at_idx" ON "whatsapp_instance"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_instance_server_id_name_key" ON "whatsapp_instance"("server_id", "name");

-- CreateIndex
CREATE INDEX "contact_tenant_id_created_at_idx" ON "contact"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "contact_tags_idx" ON "contact" USING GIN ("tags");

-- CreateIndex
CREATE INDEX "contact_custom_fields_idx" ON "contact" USING GIN ("custom_fields" jsonb_path_ops);

-- CreateIndex
CREATE UNIQUE INDEX "contact_tenant_id_phone_key" ON "contact"("tenant_id", "phone");

-- CreateIndex
CREATE UNIQUE INDEX "segment_tenant_id_name_key" ON "segment"("tenant_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "holiday_tenant_id_date_key" ON "holiday"("tenant_id", "date");

-- CreateIndex
CREATE INDEX "contact_import_tenant_id_created_at_idx" ON "contact_import"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "contact_import_tenant_id_idempotency_key_key" ON "contact_import"("tenant_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "campaign_tenant_id_status_created_at_idx" ON "campaign"("tenant_id", "status", "created_at");

-- CreateIndex
CREATE INDEX "campaign_tenant_id_created_at_idx" ON "campaign"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "campaign_status_scheduled_at_idx" ON "campaign"("status", "scheduled_at");

-- CreateIndex
CREATE INDEX "campaign_instance_instance_id_idx" ON "campaign_instance"("instance_id");

-- CreateIndex
CREATE INDEX "campaign_message_campaign_id_sort_order_idx" ON "campaign_message"("campaign_id", "sort_order");

-- CreateIndex
CREATE UNIQUE INDEX "recipient_provider_message_id_key" ON "recipient"("provider_message_id");

-- CreateIndex
CREATE INDEX "recipient_campaign_id_status_seq_idx" ON "recipient"("campaign_id", "status", "seq");

-- CreateIndex
CREATE INDEX "recipient_campaign_id_instance_id_idx" ON "recipient"("campaign_id", "instance_id");

-- CreateIndex
CREATE INDEX "recipient_contact_id_sent_at_idx" ON "recipient"("contact_id", "sent_at");

-- CreateIndex
CREATE INDEX "recipient_claim_token_idx" ON "recipient"("claim_token");

-- CreateIndex
CREATE UNIQUE INDEX "recipient_campaign_id_contact_id_key" ON "recipient"("campaign_id", "contact_id");

-- CreateIndex
CREATE INDEX "campaign_log_campaign_id_created_at_idx" ON "campaign_log"("campaign_id", "created_at");

-- CreateIndex
CREATE INDEX "campaign_log_campaign_id_type_created_at_idx" ON "campaign_log"("campaign_id", "type", "created_at");

-- CreateIndex
CREATE INDEX "campaign_log_campaign_id_severity_created_at_idx" ON "campaign_log"("campaign_id", "severity", "created_at");

-- CreateIndex
CREATE INDEX "campaign_log_instance_id_created_at_idx" ON "campaign_log"("instance_id", "created_at");

-- CreateIndex
CREATE INDEX "campaign_log_tenant_id_created_at_idx" ON "campaign_log"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "pending_receipt_key_id_idx" ON "pending_receipt"("key_id");

-- CreateIndex
CREATE INDEX "pending_receipt_received_at_idx" ON "pending_receipt"("received_at");

-- CreateIndex
CREATE UNIQUE INDEX "pending_receipt_instance_id_key_id_status_key" ON "pending_receipt"("instance_id", "key_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "follow_up_rule_campaign_id_step_key" ON "follow_up_rule"("campaign_id", "step");

-- CreateIndex
CREATE UNIQUE INDEX "follow_up_provider_message_id_key" ON "follow_up"("provider_message_id");

-- CreateIndex
CREATE INDEX "follow_up_status_due_at_idx" ON "follow_up"("status", "due_at");

-- CreateIndex
CREATE INDEX "follow_up_contact_id_status_idx" ON "follow_up"("contact_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "follow_up_recipient_id_rule_id_key" ON "follow_up"("recipient_id", "rule_id");

-- CreateIndex
CREATE INDEX "reply_campaign_id_received_at_idx" ON "reply"("campaign_id", "received_at");

-- CreateIndex
CREATE INDEX "reply_contact_id_received_at_idx" ON "reply"("contact_id", "received_at");

-- CreateIndex
CREATE UNIQUE INDEX "reply_instance_id_provider_message_id_key" ON "reply"("instance_id", "provider_message_id");

-- AddForeignKey
ALTER TABLE "api_key" ADD CONSTRAINT "api_key_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evolution_server" ADD CONSTRAINT "evolution_server_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "whatsapp_instance" ADD CONSTRAINT "whatsapp_instance_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "whatsapp_instance" ADD CONSTRAINT "whatsapp_instance_server_id_fkey" FOREIGN KEY ("server_id") REFERENCES "evolution_server"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contact" ADD CONSTRAINT "contact_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "segment" ADD CONSTRAINT "segment_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "holiday" ADD CONSTRAINT "holiday_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contact_import" ADD CONSTRAINT "contact_import_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign" ADD CONSTRAINT "campaign_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign" ADD CONSTRAINT "campaign_audience_segment_id_fkey" FOREIGN KEY ("audience_segment_id") REFERENCES "segment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign" ADD CONSTRAINT "campaign_parent_campaign_id_fkey" FOREIGN KEY ("parent_campaign_id") REFERENCES "campaign"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_instance" ADD CONSTRAINT "campaign_instance_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_instance" ADD CONSTRAINT "campaign_instance_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "whatsapp_instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_instance" ADD CONSTRAINT "campaign_instance_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_message" ADD CONSTRAINT "campaign_message_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_message" ADD CONSTRAINT "campaign_message_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient" ADD CONSTRAINT "recipient_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient" ADD CONSTRAINT "recipient_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient" ADD CONSTRAINT "recipient_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient" ADD CONSTRAINT "recipient_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "whatsapp_instance"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "recipient" ADD CONSTRAINT "recipient_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "campaign_message"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "campaign_log" ADD CONSTRAINT "campaign_log_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pending_receipt" ADD CONSTRAINT "pending_receipt_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pending_receipt" ADD CONSTRAINT "pending_receipt_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "whatsapp_instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up_rule" ADD CONSTRAINT "follow_up_rule_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up_rule" ADD CONSTRAINT "follow_up_rule_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_rule_id_fkey" FOREIGN KEY ("rule_id") REFERENCES "follow_up_rule"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "recipient"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "follow_up" ADD CONSTRAINT "follow_up_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "whatsapp_instance"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reply" ADD CONSTRAINT "reply_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reply" ADD CONSTRAINT "reply_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "whatsapp_instance"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reply" ADD CONSTRAINT "reply_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contact"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reply" ADD CONSTRAINT "reply_campaign_id_fkey" FOREIGN KEY ("campaign_id") REFERENCES "campaign"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reply" ADD CONSTRAINT "reply_recipient_id_fkey" FOREIGN KEY ("recipient_id") REFERENCES "recipient"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- The campaign log is an audit trail: append-only in the database too, whatever the client.
CREATE FUNCTION campaign_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'campaign_log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER campaign_log_append_only
BEFORE UPDATE OR DELETE ON "campaign_log"
FOR EACH ROW EXECUTE FUNCTION campaign_log_refuse_change();
