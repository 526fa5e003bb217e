//! How long guessing waits, after OWASP's "device cookies" and NIST SP
//! 800-63B §5.2.2: failures are counted per bucket (a known browser, an
//! account name from unknown browsers, a client address, reset requests),
//! each with a few free tries, then a doubling wait capped at a few minutes.
//! No bucket ever locks anyone out for longer than its cap, and a known
//! browser's bucket is its own, so an attack from elsewhere never blocks it.

use std::net::IpAddr;

use chrono::Duration;

/// One kind of bucket: free failures, the longest wait, and how long after
/// the last failure the count starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub free: i32,
    pub longest_minutes: i64,
    pub forget_after_minutes: i64,
}

/// Password attempts from a browser that carries a valid device cookie.
pub const DEVICE: Rule = Rule {
    free: 5,
    longest_minutes: 5,
    forget_after_minutes: 60,
};
/// Password attempts for an account from browsers it has not signed in on.
pub const ACCOUNT: Rule = Rule {
    free: 5,
    longest_minutes: 5,
    forget_after_minutes: 60,
};
/// Failed password attempts from unknown browsers at one client address.
pub const ADDRESS: Rule = Rule {
    free: MAX_FAILURES_PER_WINDOW as i32,
    longest_minutes: 5,
    forget_after_minutes: 15,
};
/// Password-reset requests from one client address.
pub const RESET_ADDRESS: Rule = Rule {
    free: MAX_FAILURES_PER_WINDOW as i32,
    longest_minutes: 15,
    forget_after_minutes: 15,
};
/// Password-reset requests for one account name.
pub const RESET_ACCOUNT: Rule = Rule {
    free: 3,
    longest_minutes: 15,
    forget_after_minutes: 60,
};

/// Failures (or reset requests) one address makes before it waits.
pub const MAX_FAILURES_PER_WINDOW: u32 = 30;

impl Rule {
    /// The wait imposed after `failures` counted failures, if any.
    pub fn wait_after(&self, failures: i32) -> Option<Duration> {
        if failures <= self.free {
            return None;
        }
        let doublings = (failures - self.free - 1).clamp(0, 20) as u32;
        Some(Duration::minutes(
            (1_i64 << doublings).min(self.longest_minutes),
        ))
    }

    pub fn forget_after(&self) -> Duration {
        Duration::minutes(self.forget_after_minutes)
    }
}

/// What is counted. Each kind has its own prefix, so what someone types as
/// an email can never name another kind's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    Device(String),
    Account(String),
    Address(IpAddr),
    ResetAddress(IpAddr),
    ResetAccount(String),
}

impl Bucket {
    pub fn key(&self) -> String {
        match self {
            Bucket::Device(nonce) => format!("device:{nonce}"),
            Bucket::Account(email) => format!("account:{email}"),
            Bucket::Address(ip) => format!("address:{ip}"),
            Bucket::ResetAddress(ip) => format!("reset-address:{ip}"),
            Bucket::ResetAccount(email) => format!("reset-account:{email}"),
        }
    }

    pub fn rule(&self) -> Rule {
        match self {
            Bucket::Device(_) => DEVICE,
            Bucket::Account(_) => ACCOUNT,
            Bucket::Address(_) => ADDRESS,
            Bucket::ResetAddress(_) => RESET_ADDRESS,
            Bucket::ResetAccount(_) => RESET_ACCOUNT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_typos_cost_nothing_then_the_wait_doubles_to_a_few_minutes() {
        for n in 0..=ACCOUNT.free {
            assert_eq!(ACCOUNT.wait_after(n), None);
        }
        assert_eq!(ACCOUNT.wait_after(6), Some(Duration::minutes(1)));
        assert_eq!(ACCOUNT.wait_after(7), Some(Duration::minutes(2)));
        assert_eq!(ACCOUNT.wait_after(8), Some(Duration::minutes(4)));
        assert_eq!(ACCOUNT.wait_after(9), Some(Duration::minutes(5)));
        assert_eq!(ACCOUNT.wait_after(10_000), Some(Duration::minutes(5)));
    }

    #[test]
    fn waits_never_shrink_and_never_pass_the_cap() {
        for rule in [DEVICE, ACCOUNT, ADDRESS, RESET_ADDRESS, RESET_ACCOUNT] {
            let mut previous = Duration::zero();
            for n in 0..200 {
                let wait = rule.wait_after(n).unwrap_or_else(Duration::zero);
                assert!(wait >= previous, "failure {n}");
                assert!(wait <= Duration::minutes(15));
                previous = wait;
            }
        }
    }

    #[test]
    fn typed_text_cannot_name_another_bucket() {
        assert_ne!(
            Bucket::Account("device:x".into()).key(),
            Bucket::Device("x".into()).key()
        );
    }
}
