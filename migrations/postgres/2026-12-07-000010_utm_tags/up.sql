-- UTM tags on shared links: on by default, with the template admins edit.
ALTER TABLE org_settings ADD COLUMN utm_tags BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE org_settings ADD COLUMN utm_template TEXT NOT NULL
    DEFAULT 'utm_source={platform}&utm_medium=employee_advocacy&utm_campaign={post_slug}';

-- The queue shares tagged links, so the queue counter covers the new columns.
DROP TRIGGER queue_generation_org_settings ON org_settings;
CREATE TRIGGER queue_generation_org_settings AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login, utm_tags, utm_template
    ON org_settings
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
