-- The reports' change counter, split by what changed, so that a report's
-- facts kept in memory (store::reports::FactsMemo) reload only what changed:
--   kind 0: people, departments, consent, posts and their audiences;
--   kind 1: shares added, counted in rows (a kept list of shares takes the
--           new rows by id, and the count proves none was missed);
--   kind 2: shares changed or removed;
--   kind 3: dismissals.
-- Their sum is the report generation: it changes with every change the
-- reports count, in the same transaction, as report_generation did.

-- Sixteen shards per kind, chosen by transaction id, so that concurrent
-- writers (shares) do not queue on one row; readers add them up.
DROP TRIGGER report_generation_users ON users;
DROP TRIGGER report_generation_departments ON departments;
DROP TRIGGER report_generation_consent_state ON consent_state;
DROP TRIGGER report_generation_posts ON posts;
DROP TRIGGER report_generation_post_departments ON post_departments;
DROP TRIGGER report_generation_shares ON shares;
DROP TRIGGER report_generation_dismissals ON dismissals;
DROP FUNCTION report_generation_bump();
DROP TABLE report_generation;

CREATE TABLE report_changes (
    kind INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    changes BIGINT NOT NULL,
    PRIMARY KEY (kind, shard)
);
INSERT INTO report_changes (kind, shard, changes)
    SELECT k, s, 0 FROM generate_series(0, 3) AS k, generate_series(0, 15) AS s;

-- One change per statement, of the kind given as the trigger's argument.
CREATE FUNCTION report_changes_bump() RETURNS trigger AS $$
BEGIN
    UPDATE report_changes SET changes = changes + 1
        WHERE kind = TG_ARGV[0]::integer AND shard = txid_current() % 16;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Shares added count in rows: the statement's new rows.
CREATE FUNCTION report_changes_shares_added() RETURNS trigger AS $$
BEGIN
    UPDATE report_changes SET changes = changes + (SELECT count(*) FROM added_shares)
        WHERE kind = 1 AND shard = txid_current() % 16;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER report_changes_users AFTER INSERT OR UPDATE OF active, is_employee, department_id OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(0);
CREATE TRIGGER report_changes_departments AFTER INSERT OR UPDATE OF name OR DELETE OR TRUNCATE ON departments
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(0);
CREATE TRIGGER report_changes_consent_state AFTER INSERT OR UPDATE OF status OR DELETE OR TRUNCATE ON consent_state
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(0);
CREATE TRIGGER report_changes_posts AFTER INSERT OR UPDATE OF title, target_all, published_at, withdrawn_at, expires_at, status OR DELETE OR TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(0);
CREATE TRIGGER report_changes_post_departments AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON post_departments
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(0);
CREATE TRIGGER report_changes_shares_insert AFTER INSERT ON shares
    REFERENCING NEW TABLE AS added_shares
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_shares_added();
CREATE TRIGGER report_changes_shares_change AFTER UPDATE OR DELETE OR TRUNCATE ON shares
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(2);
CREATE TRIGGER report_changes_dismissals AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dismissals
    FOR EACH STATEMENT EXECUTE FUNCTION report_changes_bump(3);
