DROP TRIGGER queue_generation_org_settings ON org_settings;
DROP TRIGGER queue_generation_share_caps ON share_caps;
