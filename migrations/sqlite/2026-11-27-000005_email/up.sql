-- Email: one outbox for every message, suppressed addresses, digest
-- preferences, and one-click unsubscribe tokens.
ALTER TABLE users ADD COLUMN digest_frequency TEXT NOT NULL DEFAULT 'off';
ALTER TABLE users ADD COLUMN digest_weekday INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN digest_hour INTEGER NOT NULL DEFAULT 8;
ALTER TABLE users ADD COLUMN digest_max_posts INTEGER NOT NULL DEFAULT 5;
ALTER TABLE users ADD COLUMN last_digest_at TIMESTAMP;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    recipient TEXT NOT NULL,
    -- One row per purpose and period: a second planner is a no-op.
    dedupe_key TEXT NOT NULL UNIQUE,
    -- What the message is about (post ids, a link); rendered at send time.
    payload TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    headers TEXT NOT NULL,
    -- Fixed when the row is created, so a retried message keeps its id.
    message_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    last_error TEXT,
    -- A digest is not sent once its period is over.
    send_before TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_user ON outbox (user_id, status);

CREATE TABLE suppressed_addresses (
    email TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE unsubscribe_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX unsubscribe_tokens_by_user ON unsubscribe_tokens (user_id);
