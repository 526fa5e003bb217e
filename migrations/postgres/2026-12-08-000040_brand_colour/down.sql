DROP TRIGGER queue_generation_org_settings ON org_settings;
CREATE TRIGGER queue_generation_org_settings AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login, utm_tags, utm_template, posts_need_approval
    ON org_settings
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
ALTER TABLE org_settings DROP COLUMN brand_colour;
