DROP TABLE consent_state;
DROP TABLE consent_erasures CASCADE;
DROP TABLE consent_events;
DROP FUNCTION consent_events_append_only();
DROP TABLE policy_versions;
ALTER TABLE org_settings DROP COLUMN privacy_contact;
ALTER TABLE org_settings DROP COLUMN jurisdiction;
ALTER TABLE org_settings DROP COLUMN consent_language;
ALTER TABLE org_settings DROP COLUMN enabled_platforms;
