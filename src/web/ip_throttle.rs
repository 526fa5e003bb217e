//! Failed logins per client address, in memory (per process): a cheap first
//! line against one address guessing many accounts. The per-account throttle
//! in the database is the one shared by all processes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub const MAX_FAILURES_PER_WINDOW: u32 = 30;
const WINDOW_MINUTES: i64 = 15;
const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
pub struct IpThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, DateTime<Utc>)>>,
}

impl IpThrottle {
    /// Seconds to wait if this address has failed too often recently.
    pub fn retry_after(&self, ip: IpAddr, now: DateTime<Utc>) -> Option<i64> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, started) = map.get(&ip)?;
        let ends = *started + Duration::minutes(WINDOW_MINUTES);
        (*count >= MAX_FAILURES_PER_WINDOW && ends > now).then(|| (ends - now).num_seconds().max(1))
    }

    pub fn record_failure(&self, ip: IpAddr, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, started)| *started + Duration::minutes(WINDOW_MINUTES) > now);
        }
        let entry = map.entry(ip).or_insert((0, now));
        if entry.1 + Duration::minutes(WINDOW_MINUTES) <= now {
            *entry = (0, now);
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_many_failures_until_its_window_ends() {
        let throttle = IpThrottle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let now = Utc::now();
        for _ in 0..MAX_FAILURES_PER_WINDOW {
            assert_eq!(throttle.retry_after(ip, now), None);
            throttle.record_failure(ip, now);
        }
        assert!(throttle.retry_after(ip, now).is_some());
        assert_eq!(throttle.retry_after(other, now), None);
        assert_eq!(throttle.retry_after(ip, now + Duration::minutes(16)), None);
    }
}
