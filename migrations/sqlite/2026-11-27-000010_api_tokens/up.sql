-- Access tokens for the JSON API (/api/v1). Only the SHA-256 of a token is
-- kept; `prefix` is its first characters, enough to recognise it in a list.
-- A personal token acts as its owner; a service token (kind 'service') is an
-- admin's integration token, limited to `service_role`, and is owned by the
-- admin who created it (deactivating that admin stops it).
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'service')),
    service_role TEXT CHECK (service_role IN ('reports', 'comms')),
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'read-write')),
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);
