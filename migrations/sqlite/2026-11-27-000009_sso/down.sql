ALTER TABLE sessions DROP COLUMN sso_id_token;
DROP TABLE sso_logins;
ALTER TABLE org_settings DROP COLUMN password_login;
ALTER TABLE org_settings DROP COLUMN sso_create_accounts;
DROP INDEX users_oidc_subject;
ALTER TABLE users DROP COLUMN oidc_subject;
