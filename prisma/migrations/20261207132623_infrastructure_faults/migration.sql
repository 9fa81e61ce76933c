-- What surviving the infrastructure needs in PostgreSQL: the webhook inbox (an event is acknowledged
-- only once it is durable here), worker heartbeats, the reconciliation of unknown outcomes, and the
-- Evolution server's version. (ADD VALUE needs PostgreSQL 12 or later inside a transaction.)

-- AlterEnum
ALTER TYPE "LogType" ADD VALUE 'OUTCOME_RECONCILED';
ALTER TYPE "LogType" ADD VALUE 'RESENT';
ALTER TYPE "LogType" ADD VALUE 'STALLED';
ALTER TYPE "LogType" ADD VALUE 'STALL_ENDED';

-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "stalled_since" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "evolution_server" ADD COLUMN     "version" TEXT,
ADD COLUMN     "version_checked_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "whatsapp_instance" ADD COLUMN     "unreachable_since" TIMESTAMPTZ(3),
ADD COLUMN     "unreachable_until" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "recipient" ADD COLUMN     "evidence" JSONB,
ADD COLUMN     "reconcile_at" TIMESTAMPTZ(3),
ADD COLUMN     "reconcile_attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "request_key_id" TEXT;

-- CreateTable
CREATE TABLE "webhook_inbox" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "instance_id" UUID NOT NULL,
    "event" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,
    "failed_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_inbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "worker_process" (
    "id" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "queues" TEXT[],
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "worker_process_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "worker_process_heartbeat_at_idx" ON "worker_process"("heartbeat_at");

-- CreateIndex
CREATE INDEX "recipient_reconcile_at_idx" ON "recipient"("reconcile_at") WHERE "reconcile_at" IS NOT NULL;

-- The inbox is a queue: rows come and go all day. Vacuum it by row count, not by its (small) size.
ALTER TABLE "webhook_inbox" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000);
