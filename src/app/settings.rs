//! The organisation's settings.
