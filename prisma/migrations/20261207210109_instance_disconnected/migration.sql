-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "reconnect_wait_since" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "whatsapp_instance" ADD COLUMN     "disconnect_check_at" TIMESTAMPTZ(3),
ADD COLUMN     "disconnected_since" TIMESTAMPTZ(3);

-- Instances Evolution already reported closed or refused are disconnected from now on (the claim
-- reads disconnected_since, no longer connection_state); the polled check asks about them at once.
UPDATE "whatsapp_instance" SET "disconnected_since" = COALESCE("connection_state_at", now()), "disconnect_check_at" = now()
WHERE "connection_state" IN ('CLOSE', 'REFUSED');
