DROP TRIGGER report_changes_users_insert;
DROP TRIGGER report_changes_users_update;
DROP TRIGGER report_changes_users_delete;
DROP TRIGGER report_changes_departments_insert;
DROP TRIGGER report_changes_departments_update;
DROP TRIGGER report_changes_departments_delete;
DROP TRIGGER report_changes_consent_state_insert;
DROP TRIGGER report_changes_consent_state_update;
DROP TRIGGER report_changes_consent_state_delete;
DROP TRIGGER report_changes_posts_insert;
DROP TRIGGER report_changes_posts_update;
DROP TRIGGER report_changes_posts_delete;
DROP TRIGGER report_changes_post_departments_insert;
DROP TRIGGER report_changes_post_departments_update;
DROP TRIGGER report_changes_post_departments_delete;
DROP TRIGGER report_changes_shares_insert;
DROP TRIGGER report_changes_shares_update;
DROP TRIGGER report_changes_shares_delete;
DROP TRIGGER report_changes_dismissals_insert;
DROP TRIGGER report_changes_dismissals_update;
DROP TRIGGER report_changes_dismissals_delete;
DROP TABLE report_changes;
-- A change counter for everything the reports count (people, departments,
-- consent, posts and their audiences, shares, dismissals). Triggers bump it
-- in the same transaction as the change, so a report cached under one value
-- of the counter is exactly what the data would give while it holds.
CREATE TABLE report_generation (
    shard INTEGER PRIMARY KEY NOT NULL,
    changes BIGINT NOT NULL
);
INSERT INTO report_generation (shard, changes) VALUES (0, 0);
CREATE TRIGGER report_generation_users_insert AFTER INSERT ON users
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_users_update AFTER UPDATE OF active, is_employee, department_id ON users
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_users_delete AFTER DELETE ON users
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_departments_insert AFTER INSERT ON departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_departments_update AFTER UPDATE OF name ON departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_departments_delete AFTER DELETE ON departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_consent_state_insert AFTER INSERT ON consent_state
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_consent_state_update AFTER UPDATE OF status ON consent_state
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_consent_state_delete AFTER DELETE ON consent_state
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_posts_insert AFTER INSERT ON posts
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_posts_update AFTER UPDATE OF title, target_all, published_at, withdrawn_at, expires_at, status ON posts
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_posts_delete AFTER DELETE ON posts
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_post_departments_insert AFTER INSERT ON post_departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_post_departments_update AFTER UPDATE ON post_departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_post_departments_delete AFTER DELETE ON post_departments
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_shares_insert AFTER INSERT ON shares
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_shares_update AFTER UPDATE ON shares
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_shares_delete AFTER DELETE ON shares
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_dismissals_insert AFTER INSERT ON dismissals
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_dismissals_update AFTER UPDATE ON dismissals
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
CREATE TRIGGER report_generation_dismissals_delete AFTER DELETE ON dismissals
BEGIN UPDATE report_generation SET changes = changes + 1 WHERE shard = 0; END;
