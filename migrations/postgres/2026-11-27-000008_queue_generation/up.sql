-- A change counter for what every queue is cut from: posts, their
-- captions and their audiences. Each process keeps the published posts in
-- memory while this counter holds (see src/web/live_posts.rs); triggers bump
-- it in the same transaction as the change, so no write path can forget it.
CREATE TABLE queue_generation (
    id INTEGER PRIMARY KEY NOT NULL,
    changes BIGINT NOT NULL
);
INSERT INTO queue_generation (id, changes) VALUES (1, 0);

CREATE FUNCTION queue_generation_bump() RETURNS trigger AS $$
BEGIN
    UPDATE queue_generation SET changes = changes + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER queue_generation_posts AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
CREATE TRIGGER queue_generation_post_captions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON post_captions
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
CREATE TRIGGER queue_generation_post_departments AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON post_departments
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();

-- The queue's "popular right now" hint counts a page of posts' shares of the
-- last hour: a range per post, not every share the post ever had.
CREATE INDEX shares_by_post_recent ON shares (post_id, shared_at, platform);
