-- AlterTable
ALTER TABLE "campaign" ADD COLUMN     "limit_per_day" INTEGER,
ADD COLUMN     "limit_per_hour" INTEGER,
ADD COLUMN     "limit_per_minute" INTEGER,
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 5,
ADD COLUMN     "throttled_until" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "whatsapp_instance" ADD COLUMN     "throttle_streak" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "throttled_at" TIMESTAMPTZ(3),
ADD COLUMN     "throttled_until" TIMESTAMPTZ(3);
