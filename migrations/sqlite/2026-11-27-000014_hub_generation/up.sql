-- The queue counter also covers the organisation's settings and its share
-- caps, so each process keeps them with the published posts (see
-- src/store/live_posts.rs) instead of reading them on every queue view.
-- Every settings column but updated_at is listed: the SQLite writers take
-- their lock by touching updated_at alone, which changes nothing the queue
-- reads. A column added to org_settings belongs in this list (a test in
-- tests/api/queue.rs checks it).
CREATE TRIGGER queue_generation_org_settings_update AFTER UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login
    ON org_settings
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_org_settings_insert AFTER INSERT ON org_settings
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_org_settings_delete AFTER DELETE ON org_settings
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_share_caps_insert AFTER INSERT ON share_caps
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_share_caps_update AFTER UPDATE ON share_caps
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER queue_generation_share_caps_delete AFTER DELETE ON share_caps
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
