-- A change counter for what every queue is cut from: posts, their
-- captions and their audiences. Each process keeps the published posts in
-- memory while this counter holds (see src/web/live_posts.rs); triggers bump
-- it in the same transaction as the change, so no write path can forget it.
CREATE TABLE queue_generation (
    id INTEGER PRIMARY KEY NOT NULL,
    changes BIGINT NOT NULL
);
INSERT INTO queue_generation (id, changes) VALUES (1, 0);
CREATE TRIGGER queue_generation_posts_insert AFTER INSERT ON posts
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_posts_update AFTER UPDATE ON posts
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_posts_delete AFTER DELETE ON posts
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_captions_insert AFTER INSERT ON post_captions
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_captions_update AFTER UPDATE ON post_captions
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_captions_delete AFTER DELETE ON post_captions
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_departments_insert AFTER INSERT ON post_departments
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_departments_update AFTER UPDATE ON post_departments
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_post_departments_delete AFTER DELETE ON post_departments
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;

-- The queue's "popular right now" hint counts a page of posts' shares of the
-- last hour: a range per post, not every share the post ever had.
CREATE INDEX shares_by_post_recent ON shares (post_id, shared_at, platform);
