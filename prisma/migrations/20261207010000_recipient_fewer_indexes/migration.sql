-- DropIndex
DROP INDEX "recipient_campaign_id_instance_id_idx";

-- DropIndex
DROP INDEX "recipient_campaign_id_message_id_idx";
