-- The organisation's colour, for the band and buttons of its emails. The
-- queue keeps the settings while queue_generation holds, so every column
-- moves it.
ALTER TABLE org_settings ADD COLUMN brand_colour TEXT NOT NULL DEFAULT '#1f4e79';

DROP TRIGGER queue_generation_org_settings_update;
CREATE TRIGGER queue_generation_org_settings_update AFTER UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login, utm_tags, utm_template, posts_need_approval, brand_colour
    ON org_settings
BEGIN UPDATE queue_generation SET changes = changes + 1 WHERE id = 1; END;
