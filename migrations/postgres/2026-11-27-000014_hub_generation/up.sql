-- The queue counter also covers the organisation's settings and its share
-- caps, so each process keeps them with the published posts (see
-- src/store/live_posts.rs) instead of reading them on every queue view.
-- Every settings column but updated_at is listed, as on SQLite (whose
-- writers take their lock by touching updated_at alone). A column added to
-- org_settings belongs in this list (a test in tests/api/queue.rs
-- checks it).
CREATE TRIGGER queue_generation_org_settings AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login
    ON org_settings
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
CREATE TRIGGER queue_generation_share_caps AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON share_caps
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
