-- Chat channels that hear of newly published posts (Slack, Microsoft
-- Teams, Mattermost, or any JSON webhook). The webhook address is a
-- secret: only sealed (XChaCha20-Poly1305 with a key derived from the
-- server's secret key) is it kept; `url_hint` is what the page shows
-- (kind, host and its last four characters).
CREATE TABLE chat_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    url_sealed TEXT NOT NULL,
    url_hint TEXT NOT NULL,
    target_all BOOLEAN NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
-- The audiences a channel hears of, when not every post.
CREATE TABLE chat_channel_departments (
    channel_id BIGINT NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, department_id)
);
