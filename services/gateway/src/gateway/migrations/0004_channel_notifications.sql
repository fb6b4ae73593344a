-- Channels list their own notifications (GET /v1/notifications): newest first, by channel.
CREATE INDEX callbacks_by_channel ON callbacks (channel_id, created_at DESC, callback_id DESC);
