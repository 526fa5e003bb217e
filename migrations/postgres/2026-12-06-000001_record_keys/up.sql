-- Each person's secret random record key, for the cell-key method of the
-- reports (src/domain/disclosure_control.rs). New accounts get theirs from
-- the code that creates them; the default covers rows made otherwise.
ALTER TABLE users ADD COLUMN record_key BIGINT NOT NULL
    DEFAULT (floor((random() * 2 - 1) * 9.2e18))::bigint;
