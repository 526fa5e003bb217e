DROP TABLE link_previews;
