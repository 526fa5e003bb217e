DROP TABLE unsubscribe_tokens;
DROP TABLE suppressed_addresses;
DROP TABLE outbox;
ALTER TABLE users DROP COLUMN last_digest_at;
ALTER TABLE users DROP COLUMN digest_max_posts;
ALTER TABLE users DROP COLUMN digest_hour;
ALTER TABLE users DROP COLUMN digest_weekday;
ALTER TABLE users DROP COLUMN digest_frequency;
