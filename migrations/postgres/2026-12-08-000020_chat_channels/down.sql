DROP TABLE chat_channel_departments;
DROP TABLE chat_channels;
