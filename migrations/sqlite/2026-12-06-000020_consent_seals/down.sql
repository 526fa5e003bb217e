DROP TABLE consent_seals;
