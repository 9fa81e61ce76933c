-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "FollowUpStatus" ADD VALUE 'SCHEDULED';
ALTER TYPE "FollowUpStatus" ADD VALUE 'SENDING';
ALTER TYPE "FollowUpStatus" ADD VALUE 'UNKNOWN';

-- AlterTable
ALTER TABLE "follow_up" ADD COLUMN     "claim_token" TEXT,
ADD COLUMN     "claimed_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "recipient" ADD COLUMN     "confirmed_key_id" TEXT;
