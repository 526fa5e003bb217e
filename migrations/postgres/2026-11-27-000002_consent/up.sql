-- Consent: organisation settings for consent records, the versioned
-- social-media policy, the append-only consent ledger and the current state.
ALTER TABLE org_settings ADD COLUMN enabled_platforms TEXT NOT NULL DEFAULT 'linkedin,x,mastodon,bluesky';
ALTER TABLE org_settings ADD COLUMN consent_language TEXT NOT NULL DEFAULT 'en';
ALTER TABLE org_settings ADD COLUMN jurisdiction TEXT NOT NULL DEFAULT 'EU';
ALTER TABLE org_settings ADD COLUMN privacy_contact TEXT NOT NULL DEFAULT '';

CREATE TABLE policy_versions (
    version BIGINT PRIMARY KEY NOT NULL,
    markdown TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    material BOOLEAN NOT NULL,
    published_at TIMESTAMP NOT NULL,
    published_by BIGINT REFERENCES users (id)
);

CREATE TABLE consent_events (
    id BIGSERIAL PRIMARY KEY,
    event_uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL,
    platform TEXT NOT NULL,
    action TEXT NOT NULL,
    policy_version BIGINT NOT NULL REFERENCES policy_versions (version),
    policy_sha256 TEXT NOT NULL,
    collection_method TEXT NOT NULL,
    actor TEXT NOT NULL,
    language TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    -- One successor per link: a chain cannot fork, even under concurrency.
    UNIQUE (user_id, prev_hash)
);

-- Erasing an account is the one way consent events may be deleted: the
-- erasure is announced here, in the same transaction, first.
CREATE TABLE consent_erasures (
    user_id BIGINT PRIMARY KEY NOT NULL
);

CREATE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM consent_erasures WHERE user_id = OLD.user_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only();

CREATE TABLE consent_state (
    user_id BIGINT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL,
    platform TEXT NOT NULL,
    status TEXT NOT NULL,
    policy_version BIGINT NOT NULL,
    instance TEXT,
    last_event_uuid TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, purpose, platform)
);
CREATE INDEX consent_state_by_status ON consent_state (status, policy_version);
