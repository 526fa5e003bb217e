//! The employee's queue: the page, sharing, dismissing and restoring.
