-- Single sign-on (OpenID Connect): the provider's subject a person is
-- linked to, the admin's two SSO settings, and the sign-ins under way.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject);

ALTER TABLE org_settings ADD COLUMN sso_create_accounts BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE org_settings ADD COLUMN password_login BOOLEAN NOT NULL DEFAULT 1;

-- One row per sign-in sent to the provider, taken (deleted) by its
-- callback: state, nonce and PKCE verifier never leave the server, and a
-- replayed callback finds nothing. browser_hash binds it to the browser
-- that started it (SHA-256 of a random cookie).
CREATE TABLE sso_logins (
    state_hash TEXT PRIMARY KEY NOT NULL,
    browser_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sso_logins_expires_at ON sso_logins (expires_at);

-- The ID token a session was signed in with, as the id_token_hint of the
-- provider's logout (RP-initiated logout); NULL for password sessions.
ALTER TABLE sessions ADD COLUMN sso_id_token TEXT;
