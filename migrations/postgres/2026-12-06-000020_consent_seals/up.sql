-- A keyed seal per person over their consent chain (its length and head),
-- or, once erased, a keyed tombstone: HMAC-SHA256 under a key derived from
-- the server's secret, which the database does not hold. Someone with only
-- database access can neither rewrite a chain nor delete its events nor
-- forge an erasure without `chorus consent verify` noticing.
CREATE TABLE consent_seals (
    user_id BIGINT PRIMARY KEY NOT NULL,
    -- 'live', 'erased', or 'pending' (chains from before seals existed,
    -- sealed as found by the first `chorus serve` after this migration).
    kind TEXT NOT NULL,
    events BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    mac TEXT NOT NULL
);
INSERT INTO consent_seals (user_id, kind, events, head_hash, mac)
SELECT DISTINCT user_id, 'pending', 0, '', '' FROM consent_events;
