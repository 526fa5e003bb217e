DROP TRIGGER report_generation_users ON users;
DROP TRIGGER report_generation_departments ON departments;
DROP TRIGGER report_generation_consent_state ON consent_state;
DROP TRIGGER report_generation_posts ON posts;
DROP TRIGGER report_generation_post_departments ON post_departments;
DROP TRIGGER report_generation_shares ON shares;
DROP TRIGGER report_generation_dismissals ON dismissals;
DROP FUNCTION report_generation_bump();
DROP TABLE report_generation;
