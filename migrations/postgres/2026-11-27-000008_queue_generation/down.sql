DROP INDEX shares_by_post_recent;
DROP TRIGGER queue_generation_posts ON posts;
DROP TRIGGER queue_generation_post_captions ON post_captions;
DROP TRIGGER queue_generation_post_departments ON post_departments;
DROP FUNCTION queue_generation_bump();
DROP TABLE queue_generation;
