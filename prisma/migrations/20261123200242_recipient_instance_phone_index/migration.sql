-- CreateIndex
CREATE INDEX "recipient_instance_id_phone_idx" ON "recipient"("instance_id", "phone");
