-- Accounts: the organisation, departments, people, sessions, one-time links
-- and the per-account login throttle.
CREATE TABLE org_settings (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    org_name TEXT NOT NULL,
    setup_completed_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO org_settings (id, org_name, updated_at) VALUES (1, '', CURRENT_TIMESTAMP);

CREATE TABLE departments (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    department_id BIGINT REFERENCES departments (id),
    is_employee BOOLEAN NOT NULL,
    is_comms BOOLEAN NOT NULL,
    is_admin BOOLEAN NOT NULL,
    active BOOLEAN NOT NULL,
    password_hash TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_department_id ON users (department_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE one_time_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX one_time_tokens_user_id ON one_time_tokens (user_id);

CREATE TABLE login_throttle (
    email TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
