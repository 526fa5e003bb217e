//! A person's own preferences: digests, quiet hours, personal caps.
