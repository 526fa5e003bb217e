//! When a person's digest is due: daily or weekly at their local hour,
//! outside their quiet hours, once per period. A digest not sent before its
//! period ends is cancelled rather than sent late.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike, Weekday};
use chrono_tz::Tz;

use super::Invalid;
use super::schedule;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Off,
    Daily,
    Weekly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Off => "off",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Frequency> {
        [Frequency::Off, Frequency::Daily, Frequency::Weekly]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

pub const DEFAULT_MAX_POSTS: u32 = 5;
pub const MAX_POSTS_LIMIT: u32 = 20;

/// A person's digest settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestPlan {
    pub frequency: Frequency,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    /// Local hour, 0–23.
    pub hour: u32,
    pub tz: Tz,
    /// Quiet hours as minutes after midnight, from–until (may wrap midnight).
    pub quiet: Option<(u32, u32)>,
}

/// Whether a minute of the day falls in quiet hours that may wrap midnight.
pub fn in_quiet_hours(minute: u32, from: u32, until: u32) -> bool {
    if from == until {
        false
    } else if from < until {
        minute >= from && minute < until
    } else {
        minute >= from || minute < until
    }
}

/// The period a digest is due for now, as a key and the UTC instant the
/// period ends; None when nothing is due at this moment.
pub fn due_period(plan: &DigestPlan, now_utc: NaiveDateTime) -> Option<(String, NaiveDateTime)> {
    let local = schedule::utc_to_local(now_utc, plan.tz);
    if let Some((from, until)) = plan.quiet
        && in_quiet_hours(local.hour() * 60 + local.minute(), from, until)
    {
        return None;
    }
    let today = local.date();
    match plan.frequency {
        Frequency::Off => None,
        Frequency::Daily => {
            if local.hour() < plan.hour {
                return None;
            }
            let (_, end) = schedule::day_bounds_utc(today, plan.tz);
            Some((format!("d{}", today.format("%Y-%m-%d")), end))
        }
        Frequency::Weekly => {
            let day = today.weekday().number_from_monday();
            if day < plan.weekday || (day == plan.weekday && local.hour() < plan.hour) {
                return None;
            }
            let week = today.iso_week();
            let (_, end) = schedule::week_bounds_utc(today, plan.tz);
            Some((format!("w{}-W{:02}", week.year(), week.week()), end))
        }
    }
}

pub fn parse_weekday(input: &str) -> Result<u32, Invalid> {
    match input.trim().parse::<u32>() {
        Ok(n) if (1..=7).contains(&n) => Ok(n),
        _ => Err(Invalid::new("Choose a day of the week.")),
    }
}

pub fn parse_hour(input: &str) -> Result<u32, Invalid> {
    match input.trim().parse::<u32>() {
        Ok(n) if n < 24 => Ok(n),
        _ => Err(Invalid::new("Choose an hour between 0 and 23.")),
    }
}

pub fn parse_max_posts(input: &str) -> Result<u32, Invalid> {
    match input.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_POSTS_LIMIT).contains(&n) => Ok(n),
        _ => Err(Invalid::new(format!(
            "Choose between 1 and {MAX_POSTS_LIMIT} posts per digest."
        ))),
    }
}

pub fn weekday_name(n: u32) -> &'static str {
    match Weekday::try_from((n.clamp(1, 7) - 1) as u8).unwrap_or(Weekday::Mon) {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// How long before a digest's posts are considered new when there was no
/// digest yet.
pub const FIRST_DIGEST_LOOKBACK: Duration = Duration::days(7);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn plan(frequency: Frequency) -> DigestPlan {
        DigestPlan {
            frequency,
            weekday: 3,
            hour: 8,
            tz: "Europe/Berlin".parse().unwrap(),
            quiet: None,
        }
    }

    #[test]
    fn a_daily_digest_is_due_from_the_local_hour_until_local_midnight() {
        let p = plan(Frequency::Daily);
        assert_eq!(
            due_period(&p, at("2026-12-02 06:59")),
            None,
            "07:59 in Berlin"
        );
        let (key, end) = due_period(&p, at("2026-12-02 07:00")).unwrap();
        assert_eq!(key, "d2026-12-02");
        assert_eq!(end, at("2026-12-02 23:00"), "midnight in Berlin");
        assert_eq!(
            due_period(&p, at("2026-12-02 22:59")).unwrap().0,
            "d2026-12-02"
        );
    }

    #[test]
    fn a_weekly_digest_is_due_from_its_day_and_hour_until_the_week_ends() {
        let p = plan(Frequency::Weekly); // Wednesdays at 08:00
        assert_eq!(due_period(&p, at("2026-12-01 10:00")), None, "Tuesday");
        assert_eq!(
            due_period(&p, at("2026-12-02 06:00")),
            None,
            "Wednesday 07:00 local"
        );
        let (key, end) = due_period(&p, at("2026-12-02 07:00")).unwrap();
        assert_eq!(key, "w2026-W49");
        assert_eq!(end, at("2026-12-06 23:00"), "Sunday midnight in Berlin");
        assert_eq!(
            due_period(&p, at("2026-12-05 12:00")).unwrap().0,
            "w2026-W49",
            "late in the week still counts"
        );
    }

    #[test]
    fn quiet_hours_hold_a_digest_back_even_across_midnight() {
        assert!(in_quiet_hours(23 * 60, 22 * 60, 7 * 60));
        assert!(in_quiet_hours(3 * 60, 22 * 60, 7 * 60));
        assert!(!in_quiet_hours(8 * 60, 22 * 60, 7 * 60));
        assert!(in_quiet_hours(13 * 60, 12 * 60, 14 * 60));
        let mut p = plan(Frequency::Daily);
        p.quiet = Some((7 * 60, 10 * 60));
        assert_eq!(
            due_period(&p, at("2026-12-02 07:30")),
            None,
            "08:30 local is quiet"
        );
        assert!(
            due_period(&p, at("2026-12-02 09:00")).is_some(),
            "10:00 local is not"
        );
    }

    #[test]
    fn off_is_never_due_and_inputs_are_checked() {
        assert_eq!(
            due_period(&plan(Frequency::Off), at("2026-12-02 12:00")),
            None
        );
        assert!(parse_hour("24").is_err() && parse_hour("7").is_ok());
        assert!(parse_weekday("0").is_err() && parse_weekday("7").is_ok());
        assert!(
            parse_max_posts("0").is_err()
                && parse_max_posts("21").is_err()
                && parse_max_posts("5").is_ok()
        );
        assert_eq!(weekday_name(1), "Monday");
    }
}
