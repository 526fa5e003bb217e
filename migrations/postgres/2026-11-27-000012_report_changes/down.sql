DROP TRIGGER report_changes_users ON users;
DROP TRIGGER report_changes_departments ON departments;
DROP TRIGGER report_changes_consent_state ON consent_state;
DROP TRIGGER report_changes_posts ON posts;
DROP TRIGGER report_changes_post_departments ON post_departments;
DROP TRIGGER report_changes_shares_insert ON shares;
DROP TRIGGER report_changes_shares_change ON shares;
DROP TRIGGER report_changes_dismissals ON dismissals;
DROP FUNCTION report_changes_bump();
DROP FUNCTION report_changes_shares_added();
DROP TABLE report_changes;
-- A change counter for everything the reports count (people, departments,
-- consent, posts and their audiences, shares, dismissals). Triggers bump it
-- in the same transaction as the change, so a report cached under one value
-- of the counter is exactly what the data would give while it holds.
-- Sixteen shards, chosen by transaction id, so that concurrent writers
-- (shares) do not queue on one row; readers add them up.
CREATE TABLE report_generation (
    shard INTEGER PRIMARY KEY NOT NULL,
    changes BIGINT NOT NULL
);
INSERT INTO report_generation (shard, changes) SELECT s, 0 FROM generate_series(0, 15) AS s;

CREATE FUNCTION report_generation_bump() RETURNS trigger AS $$
BEGIN
    UPDATE report_generation SET changes = changes + 1 WHERE shard = txid_current() % 16;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER report_generation_users AFTER INSERT OR UPDATE OF active, is_employee, department_id OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_departments AFTER INSERT OR UPDATE OF name OR DELETE OR TRUNCATE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_consent_state AFTER INSERT OR UPDATE OF status OR DELETE OR TRUNCATE ON consent_state
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_posts AFTER INSERT OR UPDATE OF title, target_all, published_at, withdrawn_at, expires_at, status OR DELETE OR TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_post_departments AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON post_departments
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_shares AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON shares
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
CREATE TRIGGER report_generation_dismissals AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dismissals
    FOR EACH STATEMENT EXECUTE FUNCTION report_generation_bump();
