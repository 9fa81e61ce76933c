-- Indexes on recipient columns that are NULL for most of a recipient's life hold only the rows where
-- they are set: a recipient frozen into a campaign (NULL claim token, provider message id and instance)
-- then adds no entry to them, and each later write adds at most the one it sets (docs/decisions.md 56).
-- Prisma's schema language cannot state a predicate; schema.prisma keeps the plain @@index/@unique,
-- and `migrate diff` compares columns only, so the two stay in step.

-- DropIndex
DROP INDEX "recipient_claim_token_idx";
-- CreateIndex: only claimed recipients (SENDING) hold a claim token
CREATE INDEX "recipient_claim_token_idx" ON "recipient"("claim_token") WHERE "claim_token" IS NOT NULL;

-- DropIndex
DROP INDEX "recipient_provider_message_id_key";
-- CreateIndex: unique among the recipients Evolution accepted (NULLs never conflicted anyway)
CREATE UNIQUE INDEX "recipient_provider_message_id_key" ON "recipient"("provider_message_id") WHERE "provider_message_id" IS NOT NULL;

-- DropIndex
DROP INDEX "recipient_instance_id_phone_idx";
-- CreateIndex: only recipients an instance claimed or sent
CREATE INDEX "recipient_instance_id_phone_idx" ON "recipient"("instance_id", "phone") WHERE "instance_id" IS NOT NULL;
