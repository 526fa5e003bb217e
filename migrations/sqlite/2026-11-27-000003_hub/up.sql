-- The hub: posts with captions per platform, department targets, caps,
-- suggestions from employees, and an append-only audit log.
ALTER TABLE org_settings ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE org_settings ADD COLUMN disclosure_template TEXT NOT NULL DEFAULT 'I work at {org}.';
ALTER TABLE org_settings ADD COLUMN disclosure_required BOOLEAN NOT NULL DEFAULT 1;

-- Most posts the hub may publish per platform per local day and ISO week.
CREATE TABLE hub_caps (
    platform TEXT PRIMARY KEY NOT NULL,
    per_day INTEGER NOT NULL,
    per_week INTEGER NOT NULL
);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title TEXT NOT NULL,
    link TEXT NOT NULL,
    base_text TEXT NOT NULL,
    status TEXT NOT NULL,
    target_all BOOLEAN NOT NULL,
    publish_at TIMESTAMP,
    expires_at TIMESTAMP,
    published_at TIMESTAMP,
    withdrawn_at TIMESTAMP,
    withdrawal_reason TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX posts_by_status_and_time ON posts (status, publish_at);

CREATE TABLE post_departments (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    department_id BIGINT NOT NULL REFERENCES departments (id),
    PRIMARY KEY (post_id, department_id)
);

-- Several variants per platform, so a crowd does not post identical text.
CREATE TABLE post_captions (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    variant INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (post_id, platform, variant)
);
CREATE INDEX post_captions_by_platform ON post_captions (platform, post_id);

CREATE TABLE suggestions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    link TEXT NOT NULL,
    note TEXT NOT NULL,
    status TEXT NOT NULL,
    response_note TEXT,
    post_id BIGINT REFERENCES posts (id),
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by BIGINT REFERENCES users (id)
);
CREATE INDEX suggestions_by_user ON suggestions (user_id);
CREATE INDEX suggestions_by_status ON suggestions (status);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
