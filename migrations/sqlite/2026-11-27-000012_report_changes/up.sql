-- The reports' change counter, split by what changed, so that a report's
-- facts kept in memory (store::reports::FactsMemo) reload only what changed:
--   kind 0: people, departments, consent, posts and their audiences;
--   kind 1: shares added, counted in rows (a kept list of shares takes the
--           new rows by id, and the count proves none was missed);
--   kind 2: shares changed or removed;
--   kind 3: dismissals.
-- Their sum is the report generation: it changes with every change the
-- reports count, in the same transaction, as report_generation did.

DROP TRIGGER report_generation_users_insert;
DROP TRIGGER report_generation_users_update;
DROP TRIGGER report_generation_users_delete;
DROP TRIGGER report_generation_departments_insert;
DROP TRIGGER report_generation_departments_update;
DROP TRIGGER report_generation_departments_delete;
DROP TRIGGER report_generation_consent_state_insert;
DROP TRIGGER report_generation_consent_state_update;
DROP TRIGGER report_generation_consent_state_delete;
DROP TRIGGER report_generation_posts_insert;
DROP TRIGGER report_generation_posts_update;
DROP TRIGGER report_generation_posts_delete;
DROP TRIGGER report_generation_post_departments_insert;
DROP TRIGGER report_generation_post_departments_update;
DROP TRIGGER report_generation_post_departments_delete;
DROP TRIGGER report_generation_shares_insert;
DROP TRIGGER report_generation_shares_update;
DROP TRIGGER report_generation_shares_delete;
DROP TRIGGER report_generation_dismissals_insert;
DROP TRIGGER report_generation_dismissals_update;
DROP TRIGGER report_generation_dismissals_delete;
DROP TABLE report_generation;
CREATE TABLE report_changes (
    kind INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    changes BIGINT NOT NULL,
    PRIMARY KEY (kind, shard)
);
INSERT INTO report_changes (kind, shard, changes) VALUES (0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0);
CREATE TRIGGER report_changes_users_insert AFTER INSERT ON users
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_users_update AFTER UPDATE OF active, is_employee, department_id ON users
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_users_delete AFTER DELETE ON users
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_departments_insert AFTER INSERT ON departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_departments_update AFTER UPDATE OF name ON departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_departments_delete AFTER DELETE ON departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_consent_state_insert AFTER INSERT ON consent_state
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_consent_state_update AFTER UPDATE OF status ON consent_state
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_consent_state_delete AFTER DELETE ON consent_state
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_posts_insert AFTER INSERT ON posts
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_posts_update AFTER UPDATE OF title, target_all, published_at, withdrawn_at, expires_at, status ON posts
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_posts_delete AFTER DELETE ON posts
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_post_departments_insert AFTER INSERT ON post_departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_post_departments_update AFTER UPDATE ON post_departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_post_departments_delete AFTER DELETE ON post_departments
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 0 AND shard = 0; END;
CREATE TRIGGER report_changes_shares_insert AFTER INSERT ON shares
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 1 AND shard = 0; END;
CREATE TRIGGER report_changes_shares_update AFTER UPDATE ON shares
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 2 AND shard = 0; END;
CREATE TRIGGER report_changes_shares_delete AFTER DELETE ON shares
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 2 AND shard = 0; END;
CREATE TRIGGER report_changes_dismissals_insert AFTER INSERT ON dismissals
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 3 AND shard = 0; END;
CREATE TRIGGER report_changes_dismissals_update AFTER UPDATE ON dismissals
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 3 AND shard = 0; END;
CREATE TRIGGER report_changes_dismissals_delete AFTER DELETE ON dismissals
BEGIN UPDATE report_changes SET changes = changes + 1 WHERE kind = 3 AND shard = 0; END;
