DROP INDEX shares_by_user_time;
CREATE INDEX shares_by_user_time ON shares (user_id, platform, shared_at);
