CREATE INDEX shares_by_post_recent ON shares (post_id, shared_at, platform);
