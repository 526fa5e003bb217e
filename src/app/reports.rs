//! Participation reports, built from counts that single no one out.
