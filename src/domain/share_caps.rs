//! Personal share caps: how often a person shares on a platform, over a
//! rolling 24 hours and a rolling 7 days. The organisation sets a default
//! and a ceiling; the person may choose less, never more.

use chrono::{Duration, NaiveDateTime};

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareCaps {
    pub per_day: u32,
    pub per_week: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapPolicy {
    pub default: ShareCaps,
    pub ceiling: ShareCaps,
}

impl CapPolicy {
    pub const DEFAULT: CapPolicy = CapPolicy {
        default: ShareCaps {
            per_day: 3,
            per_week: 10,
        },
        ceiling: ShareCaps {
            per_day: 10,
            per_week: 30,
        },
    };

    /// The caps that apply: the person's own choice (or the default),
    /// never above the ceiling.
    pub fn effective(&self, personal: Option<ShareCaps>) -> ShareCaps {
        let chosen = personal.unwrap_or(self.default);
        ShareCaps {
            per_day: chosen.per_day.min(self.ceiling.per_day),
            per_week: chosen.per_week.min(self.ceiling.per_week),
        }
    }
}

fn parse_count(input: &str, what: &str, max: u32) -> Result<u32, Invalid> {
    let value: u32 = input
        .trim()
        .parse()
        .map_err(|_| Invalid::new(format!("Enter a whole number of shares {what}.")))?;
    if value > max {
        return Err(Invalid::new(format!(
            "At most {max} shares {what}: that is your organisation's ceiling."
        )));
    }
    Ok(value)
}

/// A person's own caps as typed, checked against the ceiling.
pub fn parse_personal(day: &str, week: &str, ceiling: ShareCaps) -> Result<ShareCaps, Invalid> {
    let per_day = parse_count(day, "a day", ceiling.per_day)?;
    let per_week = parse_count(week, "a week", ceiling.per_week)?;
    if per_day > per_week {
        return Err(Invalid::new(
            "A day cannot allow more shares than the whole week.",
        ));
    }
    Ok(ShareCaps { per_day, per_week })
}

/// The organisation's default and ceiling as an admin typed them.
pub fn parse_policy(values: [&str; 4]) -> Result<CapPolicy, Invalid> {
    let numbers: Result<Vec<u32>, _> = values.iter().map(|v| v.trim().parse::<u32>()).collect();
    let Ok(n) = numbers else {
        return Err(Invalid::new(
            "Enter whole numbers for the default and the ceiling.",
        ));
    };
    let policy = CapPolicy {
        default: ShareCaps {
            per_day: n[0],
            per_week: n[1],
        },
        ceiling: ShareCaps {
            per_day: n[2],
            per_week: n[3],
        },
    };
    if policy.default.per_day > policy.ceiling.per_day
        || policy.default.per_week > policy.ceiling.per_week
    {
        return Err(Invalid::new("The default cannot be above the ceiling."));
    }
    if policy.ceiling.per_day > policy.ceiling.per_week
        || policy.default.per_day > policy.default.per_week
    {
        return Err(Invalid::new(
            "A day cannot allow more shares than the whole week.",
        ));
    }
    if policy.ceiling.per_week > 500 {
        return Err(Invalid::new(
            "A ceiling above 500 shares a week is not a cap.",
        ));
    }
    Ok(policy)
}

pub const DAY: Duration = Duration::hours(24);
pub const WEEK: Duration = Duration::days(7);
/// How long after "Share" a person may take the share back (Undo): for when
/// they closed the platform's dialog without posting. Within it the share
/// is removed and the caps count it no more; later it stays.
pub const UNDO_WINDOW: Duration = Duration::minutes(10);

/// What is left, given the times of this person's shares on the platform in
/// the last 7 days (any order).
pub fn remaining(caps: ShareCaps, recent: &[NaiveDateTime], now: NaiveDateTime) -> (u32, u32) {
    let day = recent.iter().filter(|t| **t > now - DAY).count() as u32;
    let week = recent.iter().filter(|t| **t > now - WEEK).count() as u32;
    (
        caps.per_day.saturating_sub(day),
        caps.per_week.saturating_sub(week),
    )
}

/// When the next share becomes possible: None if it is possible now; the
/// moment enough earlier shares leave their rolling window otherwise.
/// A cap of 0 means sharing on this platform is paused: `Some(None)`.
pub fn next_allowed(
    caps: ShareCaps,
    recent: &[NaiveDateTime],
    now: NaiveDateTime,
) -> Option<Option<NaiveDateTime>> {
    if caps.per_day == 0 || caps.per_week == 0 {
        return Some(None);
    }
    let mut in_day: Vec<NaiveDateTime> =
        recent.iter().copied().filter(|t| *t > now - DAY).collect();
    let mut in_week: Vec<NaiveDateTime> =
        recent.iter().copied().filter(|t| *t > now - WEEK).collect();
    in_day.sort();
    in_week.sort();
    let mut at: Option<NaiveDateTime> = None;
    if in_day.len() as u32 >= caps.per_day {
        // The share that has to leave the window for one more to fit.
        at = Some(in_day[in_day.len() - caps.per_day as usize] + DAY);
    }
    if in_week.len() as u32 >= caps.per_week {
        let week_at = in_week[in_week.len() - caps.per_week as usize] + WEEK;
        at = Some(at.map_or(week_at, |a| a.max(week_at)));
    }
    at.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(hours: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
            + Duration::hours(hours)
    }

    #[test]
    fn a_personal_cap_is_never_above_the_ceiling() {
        let policy = CapPolicy::DEFAULT;
        assert_eq!(policy.effective(None), policy.default);
        let greedy = ShareCaps {
            per_day: 50,
            per_week: 500,
        };
        assert_eq!(policy.effective(Some(greedy)), policy.ceiling);
        let modest = ShareCaps {
            per_day: 1,
            per_week: 2,
        };
        assert_eq!(policy.effective(Some(modest)), modest);
        let err = parse_personal("11", "20", policy.ceiling).unwrap_err();
        assert!(err.0.contains("At most 10 shares a day"), "{err}");
        assert!(parse_personal("5", "3", policy.ceiling).is_err());
        assert_eq!(
            parse_personal(" 2 ", "7", policy.ceiling).unwrap(),
            ShareCaps {
                per_day: 2,
                per_week: 7
            }
        );
        assert!(
            parse_personal("two", "7", policy.ceiling)
                .unwrap_err()
                .0
                .contains("whole number")
        );
    }

    #[test]
    fn the_day_window_rolls_so_the_next_share_waits_for_the_oldest_to_leave() {
        let caps = ShareCaps {
            per_day: 2,
            per_week: 10,
        };
        let recent = [t(0), t(5)];
        let now = t(6);
        assert_eq!(remaining(caps, &recent, now), (0, 8));
        assert_eq!(next_allowed(caps, &recent, now), Some(Some(t(24))));
        assert_eq!(
            next_allowed(caps, &recent, t(24) + Duration::seconds(1)),
            None
        );
        assert_eq!(remaining(caps, &recent, t(25)), (1, 8));
    }

    #[test]
    fn the_week_window_can_hold_a_share_back_longer_than_the_day() {
        let caps = ShareCaps {
            per_day: 3,
            per_week: 3,
        };
        let recent = [t(0), t(30), t(60)];
        assert_eq!(next_allowed(caps, &recent, t(70)), Some(Some(t(7 * 24))));
        assert_eq!(remaining(caps, &recent, t(70)), (2, 0));
    }

    #[test]
    fn a_cap_of_zero_pauses_sharing_on_the_platform() {
        let caps = ShareCaps {
            per_day: 0,
            per_week: 5,
        };
        assert_eq!(next_allowed(caps, &[], t(0)), Some(None));
    }

    #[test]
    fn the_organisation_policy_keeps_defaults_under_ceilings() {
        assert!(parse_policy(["3", "10", "10", "30"]).is_ok());
        assert!(
            parse_policy(["11", "10", "10", "30"])
                .unwrap_err()
                .0
                .contains("above the ceiling")
        );
        assert!(parse_policy(["3", "10", "40", "30"]).is_err());
        assert!(parse_policy(["x", "10", "10", "30"]).is_err());
    }
}
