-- RSS and Atom feeds the hub reads: each due feed is claimed by moving
-- next_poll_at on with a compare-and-set, so one process polls it at a
-- time. etag and last_modified are the validators of the last answer,
-- sent back for a conditional GET. A removed feed is kept (removed_at)
-- so its drafts still say where they came from.
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    interval_minutes INTEGER NOT NULL CHECK (interval_minutes >= 15),
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    added_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    removed_at TIMESTAMP,
    next_poll_at TIMESTAMP NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_tried_at TIMESTAMP,
    last_success_at TIMESTAMP,
    last_error TEXT,
    drafts_made BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX feeds_next_poll_at ON feeds (next_poll_at);

-- Every item a feed has shown, by its GUID (or its link without one):
-- the unique key is what keeps two pollers from drafting it twice.
CREATE TABLE feed_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    feed_id BIGINT NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    item_key TEXT NOT NULL,
    post_id BIGINT REFERENCES posts (id) ON DELETE SET NULL,
    seen_at TIMESTAMP NOT NULL,
    UNIQUE (feed_id, item_key)
);
CREATE INDEX feed_items_post_id ON feed_items (post_id);
