-- Each post's link preview: the title, description and image shown on
-- queue cards, fetched once from the link on the server (or written by
-- comms). The image is kept here, re-encoded, and served from Chorus's
-- own origin under its SHA-256 (image_hash), so employees' browsers never
-- contact the linked site. One row per post: replacing an image leaves
-- nothing behind, and every `chorus serve` on one database sees the same.
CREATE TABLE link_previews (
    post_id BIGINT PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    -- The link this preview describes (fetched from, or written for).
    link TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    image_hash TEXT,
    image_type TEXT,
    image_width INTEGER,
    image_height INTEGER,
    image BYTEA,
    -- Why the last fetch of `link` failed, for comms; NULL after a good one.
    fetch_problem TEXT,
    fetched_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX link_previews_by_image ON link_previews (image_hash);

-- Queue cards show the preview: the kept queue posts follow it.
CREATE TRIGGER queue_generation_link_previews AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON link_previews
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
