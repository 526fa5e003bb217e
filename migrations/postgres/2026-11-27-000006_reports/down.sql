ALTER TABLE org_settings DROP COLUMN k_anonymity;
