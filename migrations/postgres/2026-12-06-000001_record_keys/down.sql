ALTER TABLE users DROP COLUMN record_key;
