-- CreateEnum
CREATE TYPE "EvolutionIntegration" AS ENUM ('WHATSAPP-BAILEYS', 'WHATSAPP-BUSINESS', 'EVOLUTION');

-- AlterEnum
ALTER TYPE "SkipReason" ADD VALUE 'OUTSIDE_SERVICE_WINDOW';

-- AlterTable
ALTER TABLE "campaign_message" ADD COLUMN     "template_language" TEXT,
ADD COLUMN     "template_name" TEXT,
ADD COLUMN     "template_params" JSONB;

-- AlterTable
ALTER TABLE "whatsapp_instance" ADD COLUMN     "integration" "EvolutionIntegration" NOT NULL DEFAULT 'WHATSAPP-BAILEYS';
