//! The hub: composing, editing, scheduling and withdrawing posts.
