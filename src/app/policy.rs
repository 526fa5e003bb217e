//! The sharing policy: publishing a version.
