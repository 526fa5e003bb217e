-- Each person's "What others at work can see" page lists the changes an
-- admin made to their account (department moves, deactivation, password
-- links): the audit entries about "user:<id>", newest first.
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
