-- The queue's "popular right now" hint no longer counts a page of posts'
-- shares of the last hour: it reads each offer's threshold-th newest share
-- from shares_by_post_time (post_id, platform, shared_at). Nothing else read
-- this index, and every share paid to keep it.
DROP INDEX shares_by_post_recent;
