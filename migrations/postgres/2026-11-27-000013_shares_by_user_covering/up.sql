-- The queue reads all of a person's shares on every view (which posts they
-- shared where, and when, for their caps). With post_id in the index the
-- rows need no lookup in the table; the caps' (user, platform, time) range
-- reads use the same index as before.
DROP INDEX shares_by_user_time;
CREATE INDEX shares_by_user_time ON shares (user_id, platform, shared_at, post_id);
