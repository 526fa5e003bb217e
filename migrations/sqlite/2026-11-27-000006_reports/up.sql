-- The smallest group any report shows (k-anonymity); never below 3.
ALTER TABLE org_settings ADD COLUMN k_anonymity INTEGER NOT NULL DEFAULT 5;
