-- Private iCalendar (RFC 5545) addresses of the hub's schedule, one per
-- comms user and calendar app. Only the SHA-256 of the secret in the
-- address is kept; `prefix` is its first characters, to recognise it.
CREATE TABLE calendar_feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX calendar_feeds_user_id ON calendar_feeds (user_id);
