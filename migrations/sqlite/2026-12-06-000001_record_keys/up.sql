-- Each person's secret random record key, for the cell-key method of the
-- reports (src/domain/disclosure_control.rs). New accounts get theirs from
-- the code that creates them.
ALTER TABLE users ADD COLUMN record_key BIGINT NOT NULL DEFAULT 0;
UPDATE users SET record_key = random();
