-- Approval, a two-person rule: when the organisation asks for it, a post
-- goes draft → submitted → approved before it may be scheduled, and the
-- approver is never one who wrote it. Each edit moves the revision on, so
-- an approval is for the revision the approver saw.
ALTER TABLE org_settings ADD COLUMN posts_need_approval BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE posts ADD COLUMN edited_by BIGINT REFERENCES users (id);
ALTER TABLE posts ADD COLUMN approved_by BIGINT REFERENCES users (id);
ALTER TABLE posts ADD COLUMN approved_at TIMESTAMP;

DROP TRIGGER queue_generation_org_settings ON org_settings;
CREATE TRIGGER queue_generation_org_settings AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
    org_name, setup_completed_at, enabled_platforms, consent_language, jurisdiction, privacy_contact, timezone, disclosure_template, disclosure_required, crowd_threshold, crowd_cap_per_hour, k_anonymity, sso_create_accounts, password_login, utm_tags, utm_template, posts_need_approval
    ON org_settings
    FOR EACH STATEMENT EXECUTE FUNCTION queue_generation_bump();
