//! How long an account name waits after consecutive failed logins: no wait
//! for the first few typos, then a doubling wait, then a lock well below
//! NIST SP 800-63B's ceiling of 100 consecutive failures.

use chrono::Duration;

pub const FREE_FAILURES: i32 = 4;
pub const LOCK_AFTER_FAILURES: i32 = 20;
const LONGEST_WAIT_MINUTES: i64 = 60;
const LOCK_HOURS: i64 = 24;

/// The wait imposed after `failures` consecutive failures, if any.
pub fn wait_after(failures: i32) -> Option<Duration> {
    if failures <= FREE_FAILURES {
        None
    } else if failures >= LOCK_AFTER_FAILURES {
        Some(Duration::hours(LOCK_HOURS))
    } else {
        let doublings = (failures - FREE_FAILURES - 1).min(10) as u32;
        Some(Duration::minutes(
            (1_i64 << doublings).min(LONGEST_WAIT_MINUTES),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_typos_cost_nothing_then_the_wait_doubles_then_locks() {
        for n in 0..=FREE_FAILURES {
            assert_eq!(wait_after(n), None);
        }
        assert_eq!(wait_after(5), Some(Duration::minutes(1)));
        assert_eq!(wait_after(6), Some(Duration::minutes(2)));
        assert_eq!(wait_after(7), Some(Duration::minutes(4)));
        assert_eq!(wait_after(19), Some(Duration::minutes(60)));
        assert_eq!(wait_after(20), Some(Duration::hours(24)));
        const { assert!(LOCK_AFTER_FAILURES < 100) };
    }

    #[test]
    fn waits_never_shrink_as_failures_grow() {
        let mut previous = Duration::zero();
        for n in 0..200 {
            let wait = wait_after(n).unwrap_or_else(Duration::zero);
            assert!(wait >= previous, "failure {n}");
            previous = wait;
        }
    }
}
