DROP TABLE login_throttle;
DROP TABLE one_time_tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE departments;
DROP TABLE org_settings;
