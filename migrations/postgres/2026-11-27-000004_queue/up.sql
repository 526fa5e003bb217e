-- The employee queue: shares and dismissals, personal caps within the
-- organisation's ceilings, and the person's time zone and quiet hours.
ALTER TABLE users ADD COLUMN timezone TEXT;
ALTER TABLE users ADD COLUMN quiet_from INTEGER;
ALTER TABLE users ADD COLUMN quiet_until INTEGER;
ALTER TABLE org_settings ADD COLUMN crowd_threshold INTEGER NOT NULL DEFAULT 20;
ALTER TABLE org_settings ADD COLUMN crowd_cap_per_hour INTEGER NOT NULL DEFAULT 0;

-- Per platform: the default personal caps and the ceiling no one may exceed.
CREATE TABLE share_caps (
    platform TEXT PRIMARY KEY NOT NULL,
    default_day INTEGER NOT NULL,
    default_week INTEGER NOT NULL,
    ceiling_day INTEGER NOT NULL,
    ceiling_week INTEGER NOT NULL
);

-- A person's own, lower caps.
CREATE TABLE user_caps (
    user_id BIGINT NOT NULL REFERENCES users (id),
    platform TEXT NOT NULL,
    per_day INTEGER NOT NULL,
    per_week INTEGER NOT NULL,
    PRIMARY KEY (user_id, platform)
);

CREATE TABLE shares (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    post_id BIGINT NOT NULL REFERENCES posts (id),
    platform TEXT NOT NULL,
    variant INTEGER NOT NULL,
    edited BOOLEAN NOT NULL,
    shared_at TIMESTAMP NOT NULL,
    -- Sharing the same post on the same platform twice records it once.
    UNIQUE (user_id, post_id, platform)
);
CREATE INDEX shares_by_user_time ON shares (user_id, platform, shared_at);
CREATE INDEX shares_by_post_time ON shares (post_id, platform, shared_at);

CREATE TABLE dismissals (
    user_id BIGINT NOT NULL REFERENCES users (id),
    post_id BIGINT NOT NULL REFERENCES posts (id),
    dismissed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, post_id)
);

-- A person has read the notice that a post they shared was withdrawn.
CREATE TABLE withdrawal_notices_read (
    user_id BIGINT NOT NULL REFERENCES users (id),
    post_id BIGINT NOT NULL REFERENCES posts (id),
    read_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, post_id)
);
