//! Hub caps: how many posts the hub publishes per platform per local day and per ISO week,
//! counted in the organisation's time zone, and where the next post fits.

use chrono::{
    Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike,
};
use chrono_tz::Tz;

use super::Invalid;

/// How far ahead a free slot is looked for, so that a calendar booked solid cannot make the
/// search run forever.
const SEARCH_DAYS: u64 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_day: u32,
    pub per_week: u32,
}

impl Caps {
    pub const DEFAULT: Caps = Caps {
        per_day: 2,
        per_week: 5,
    };

    /// The most a hub cap allows: a day's and a week's.
    pub const MAX: Caps = Caps {
        per_day: 100,
        per_week: 700,
    };

    /// A platform's caps as typed: whole numbers within [`Caps::MAX`], and
    /// no more a day than a week.
    pub fn parse(per_day: &str, per_week: &str) -> Result<Caps, Invalid> {
        match (per_day.parse::<u32>(), per_week.parse::<u32>()) {
            (Ok(per_day), Ok(per_week))
                if per_day <= Caps::MAX.per_day
                    && per_week <= Caps::MAX.per_week
                    && per_day <= per_week =>
            {
                Ok(Caps { per_day, per_week })
            }
            _ => Err(Invalid::new(format!(
                "enter whole numbers, at most {} a day and {} a week, and no more a day than a week.",
                Caps::MAX.per_day,
                Caps::MAX.per_week
            ))),
        }
    }

    fn never_fits(self) -> bool {
        self.per_day == 0 || self.per_week == 0
    }
}

/// Parse a time zone name like "Europe/Berlin"; Invalid with a clear message otherwise.
pub fn parse_timezone(name: &str) -> Result<Tz, Invalid> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Invalid::new("Enter a time zone, such as Europe/Berlin."));
    }
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    // People type "europe/berlin"; the database of names is small enough to forgive case.
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            Invalid::new(format!(
                "“{name}” is not a time zone we know. Use a name such as Europe/Berlin or America/New_York."
            ))
        })
}

/// The local calendar day of a UTC instant.
pub fn local_day(at_utc: NaiveDateTime, tz: Tz) -> NaiveDate {
    utc_to_local(at_utc, tz).date()
}

/// Monday of the ISO week containing `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// UTC [start, end) of a local day, correct across DST changes (23/25-hour days).
pub fn day_bounds_utc(day: NaiveDate, tz: Tz) -> (NaiveDateTime, NaiveDateTime) {
    let start = local_to_utc(day.and_time(NaiveTime::MIN), tz);
    let end = match day.succ_opt() {
        Some(next) => local_to_utc(next.and_time(NaiveTime::MIN), tz),
        None => NaiveDateTime::MAX,
    };
    (start, end)
}

/// UTC [start, end) of the ISO week containing `day`.
pub fn week_bounds_utc(day: NaiveDate, tz: Tz) -> (NaiveDateTime, NaiveDateTime) {
    let monday = week_start(day);
    let start = day_bounds_utc(monday, tz).0;
    let end = match monday.checked_add_days(Days::new(7)) {
        Some(next_monday) => day_bounds_utc(next_monday, tz).0,
        None => NaiveDateTime::MAX,
    };
    (start, end)
}

/// Converts a wall-clock time the author typed in `tz` to UTC. A time skipped by a DST jump
/// resolves to the first valid instant after it; an ambiguous one (repeated hour) to the earlier
/// instant.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.naive_utc(),
        LocalResult::Ambiguous(a, b) => a.naive_utc().min(b.naive_utc()),
        LocalResult::None => first_instant_after_gap(local, tz),
    }
}

/// The wall-clock time in `tz` of a UTC instant.
pub fn utc_to_local(at_utc: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    tz.from_utc_datetime(&at_utc).naive_local()
}

/// The instant clocks jumped over `local`: the earliest UTC instant whose wall-clock reading is
/// past it. Found by bisection because chrono does not expose the transition itself.
fn first_instant_after_gap(local: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    let reads_past = |at: NaiveDateTime| utc_to_local(at, tz) > local;
    // Every offset, even historical local mean time, is well within a day, so the transition lies
    // between these two; whole seconds because transitions fall on whole seconds.
    let whole = local.with_nanosecond(0).unwrap_or(local);
    let (Some(mut before), Some(mut after)) = (
        whole.checked_sub_signed(TimeDelta::days(2)),
        whole.checked_add_signed(TimeDelta::days(2)),
    ) else {
        return local;
    };
    while after - before > TimeDelta::seconds(1) {
        let middle = before + (after - before) / 2;
        let middle = middle.with_nanosecond(0).unwrap_or(middle);
        if reads_past(middle) {
            after = middle;
        } else {
            before = middle;
        }
    }
    after
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether one more post at `at_utc` fits, given the UTC publish times already taken on that
/// platform.
pub fn fits(taken: &[NaiveDateTime], at_utc: NaiveDateTime, tz: Tz, caps: Caps) -> bool {
    room_on_day(taken, local_day(at_utc, tz), tz, caps) > 0
}

/// The earliest instant at or after `at_utc` where one more post fits: `at_utc` itself if it
/// fits; otherwise the same local wall-clock time on the next day that has room in both its day
/// and its week (so a full week moves to the next Monday). None when a cap is 0, or when nothing
/// fits within a year.
pub fn next_free_slot(
    taken: &[NaiveDateTime],
    at_utc: NaiveDateTime,
    tz: Tz,
    caps: Caps,
) -> Option<NaiveDateTime> {
    let wall = utc_to_local(at_utc, tz).time();
    next_free_slot_at(taken, at_utc, wall, tz, caps)
}

/// [`next_free_slot`] keeping the author's wall-clock time, so that a slot that once landed in a
/// DST gap (02:30 became 03:00) goes back to 02:30 when it moves on to a later day.
fn next_free_slot_at(
    taken: &[NaiveDateTime],
    at_utc: NaiveDateTime,
    wall: NaiveTime,
    tz: Tz,
    caps: Caps,
) -> Option<NaiveDateTime> {
    if caps.never_fits() {
        return None;
    }
    if fits(taken, at_utc, tz, caps) {
        return Some(at_utc);
    }
    let first_day = local_day(at_utc, tz);
    (1..=SEARCH_DAYS)
        .map_while(|n| first_day.checked_add_days(Days::new(n)))
        .map(|day| local_to_utc(day.and_time(wall), tz))
        .find(|&candidate| candidate > at_utc && fits(taken, candidate, tz, caps))
}

/// For a post on several platforms: the earliest instant at or after `at_utc` that fits on every
/// platform at once. None if any platform can never fit, or nothing fits within a year.
pub fn next_free_slot_all(
    platforms: &[(&[NaiveDateTime], Caps)],
    at_utc: NaiveDateTime,
    tz: Tz,
) -> Option<NaiveDateTime> {
    let wall = utc_to_local(at_utc, tz).time();
    let limit = at_utc.checked_add_signed(TimeDelta::days(SEARCH_DAYS as i64))?;
    let mut slot = at_utc;
    // Moving for one platform can land on a day another platform has full, so repeat until one
    // pass over all platforms leaves the slot where it is. Every move goes at least a day later,
    // so the limit ends the loop.
    loop {
        let mut moved = false;
        for &(taken, caps) in platforms {
            let next = next_free_slot_at(taken, slot, wall, tz, caps)?;
            if next != slot {
                slot = next;
                moved = true;
            }
        }
        if !moved {
            return Some(slot);
        }
        if slot > limit {
            return None;
        }
    }
}

/// How many more posts fit on a local day (the smaller of the day's and the week's room), for a
/// calendar view.
pub fn room_on_day(taken: &[NaiveDateTime], day: NaiveDate, tz: Tz, caps: Caps) -> u32 {
    let monday = week_start(day);
    let days: Vec<NaiveDate> = taken.iter().map(|&at| local_day(at, tz)).collect();
    let on_day = count(days.iter().filter(|&&d| d == day).count());
    let in_week = count(days.iter().filter(|&&d| week_start(d) == monday).count());
    caps.per_day
        .saturating_sub(on_day)
        .min(caps.per_week.saturating_sub(in_week))
}

/// How many more posts fit in the week holding the local day `day`.
pub fn room_in_week(taken: &[NaiveDateTime], day: NaiveDate, tz: Tz, caps: Caps) -> u32 {
    let monday = week_start(day);
    let in_week = count(
        taken
            .iter()
            .filter(|&&at| week_start(local_day(at, tz)) == monday)
            .count(),
    );
    caps.per_week.saturating_sub(in_week)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Tz {
        parse_timezone("Europe/Berlin").unwrap()
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// A UTC instant from a Berlin wall-clock time, the way an author would type it.
    fn berlin_at(text: &str) -> NaiveDateTime {
        local_to_utc(at(text), berlin())
    }

    #[test]
    fn a_time_zone_is_found_by_its_name_in_any_case_and_an_unknown_name_is_refused() {
        assert_eq!(
            parse_timezone(" Europe/Berlin ").unwrap(),
            Tz::Europe__Berlin
        );
        assert_eq!(
            parse_timezone("america/new_york").unwrap(),
            Tz::America__New_York
        );
        let unknown = parse_timezone("Mars/Olympus_Mons").unwrap_err();
        assert!(
            unknown.0.contains("“Mars/Olympus_Mons” is not a time zone"),
            "{unknown}"
        );
        assert_eq!(
            parse_timezone("  ").unwrap_err().0,
            "Enter a time zone, such as Europe/Berlin."
        );
    }

    #[test]
    fn a_post_late_in_the_utc_evening_counts_on_the_next_local_day_in_berlin() {
        assert_eq!(
            local_day(at("2026-01-06 23:30"), berlin()),
            date("2026-01-07")
        );
        assert_eq!(
            local_day(at("2026-01-06 22:59"), berlin()),
            date("2026-01-06")
        );
        assert_eq!(
            day_bounds_utc(date("2026-01-07"), berlin()),
            (at("2026-01-06 23:00"), at("2026-01-07 23:00"))
        );
    }

    #[test]
    fn a_week_runs_from_monday_to_sunday_in_local_time() {
        assert_eq!(week_start(date("2026-01-11")), date("2026-01-05"));
        assert_eq!(week_start(date("2026-01-05")), date("2026-01-05"));
        assert_eq!(
            week_bounds_utc(date("2026-01-08"), berlin()),
            (at("2026-01-04 23:00"), at("2026-01-11 23:00"))
        );
        // Sunday 23:30 UTC is already Monday in Berlin, so it belongs to the next week.
        let sunday_night = at("2026-01-11 23:30");
        assert_eq!(
            week_start(local_day(sunday_night, berlin())),
            date("2026-01-12")
        );
        let caps = Caps {
            per_day: 5,
            per_week: 1,
        };
        assert!(fits(
            &[sunday_night],
            berlin_at("2026-01-10 12:00"),
            berlin(),
            caps
        ));
        assert!(!fits(
            &[sunday_night],
            berlin_at("2026-01-13 12:00"),
            berlin(),
            caps
        ));
    }

    #[test]
    fn the_day_clocks_spring_forward_has_23_hours_and_the_day_they_fall_back_has_25() {
        let (start, end) = day_bounds_utc(date("2026-03-29"), berlin());
        assert_eq!(
            (start, end),
            (at("2026-03-28 23:00"), at("2026-03-29 22:00"))
        );
        assert_eq!(end - start, TimeDelta::hours(23));
        let (start, end) = day_bounds_utc(date("2026-10-25"), berlin());
        assert_eq!(
            (start, end),
            (at("2026-10-24 22:00"), at("2026-10-25 23:00"))
        );
        assert_eq!(end - start, TimeDelta::hours(25));
        let (start, end) = week_bounds_utc(date("2026-03-29"), berlin());
        assert_eq!(end - start, TimeDelta::hours(7 * 24 - 1));
    }

    #[test]
    fn a_time_skipped_by_the_spring_jump_becomes_the_first_moment_after_the_jump() {
        // 02:30 never happens on 2026-03-29 in Berlin: at 02:00 CET the clocks show 03:00 CEST.
        let skipped = local_to_utc(at("2026-03-29 02:30"), berlin());
        assert_eq!(skipped, at("2026-03-29 01:00"));
        assert_eq!(utc_to_local(skipped, berlin()), at("2026-03-29 03:00"));
        assert_eq!(
            local_to_utc(at("2026-03-29 01:59"), berlin()),
            at("2026-03-29 00:59")
        );
    }

    #[test]
    fn a_time_repeated_by_the_autumn_change_means_its_first_occurrence() {
        // 02:30 happens twice on 2026-10-25 in Berlin: first in CEST (00:30 UTC), then in CET.
        let repeated = local_to_utc(at("2026-10-25 02:30"), berlin());
        assert_eq!(repeated, at("2026-10-25 00:30"));
        assert_eq!(
            utc_to_local(at("2026-10-25 01:30"), berlin()),
            at("2026-10-25 02:30")
        );
    }

    #[test]
    fn a_full_day_moves_the_slot_to_the_next_day_at_the_same_local_time() {
        let taken = [berlin_at("2026-01-06 09:00"), berlin_at("2026-01-06 17:00")];
        let wanted = berlin_at("2026-01-06 15:00");
        assert!(!fits(&taken, wanted, berlin(), Caps::DEFAULT));
        assert_eq!(
            next_free_slot(&taken, wanted, berlin(), Caps::DEFAULT),
            Some(berlin_at("2026-01-07 15:00"))
        );
    }

    #[test]
    fn a_slot_with_room_is_kept_as_asked() {
        let taken = [berlin_at("2026-01-06 09:00")];
        let wanted = berlin_at("2026-01-06 15:00");
        assert_eq!(
            next_free_slot(&taken, wanted, berlin(), Caps::DEFAULT),
            Some(wanted)
        );
    }

    #[test]
    fn moving_across_the_spring_change_keeps_the_local_time_not_the_utc_time() {
        let taken = [berlin_at("2026-03-28 09:00"), berlin_at("2026-03-28 11:00")];
        let slot = next_free_slot(
            &taken,
            berlin_at("2026-03-28 10:00"),
            berlin(),
            Caps::DEFAULT,
        );
        assert_eq!(slot, Some(at("2026-03-29 08:00")));
        assert_eq!(
            utc_to_local(slot.unwrap(), berlin()),
            at("2026-03-29 10:00")
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_jump() {
        // Santiago springs forward at midnight: 2026-09-06 begins at 01:00 local time.
        let santiago = parse_timezone("America/Santiago").unwrap();
        let (start, end) = day_bounds_utc(date("2026-09-06"), santiago);
        assert_eq!(
            (start, end),
            (at("2026-09-06 04:00"), at("2026-09-07 03:00"))
        );
        assert_eq!(utc_to_local(start, santiago), at("2026-09-06 01:00"));
        assert_eq!(day_bounds_utc(date("2026-09-05"), santiago).1, start);
    }

    #[test]
    fn a_slot_pushed_through_a_skipped_hour_returns_to_the_time_the_author_chose() {
        let caps = Caps {
            per_day: 1,
            per_week: 5,
        };
        let linkedin = [berlin_at("2026-03-28 09:00")];
        let mastodon = [berlin_at("2026-03-29 09:00")];
        // Sunday 02:30 does not exist, but Monday 02:30 does, and that is what the author asked.
        let slot = next_free_slot_all(
            &[(&linkedin, caps), (&mastodon, caps)],
            berlin_at("2026-03-28 02:30"),
            berlin(),
        );
        assert_eq!(
            slot.map(|s| utc_to_local(s, berlin())),
            Some(at("2026-03-30 02:30"))
        );
    }

    #[test]
    fn a_full_week_moves_the_slot_to_next_monday_at_the_same_local_time() {
        // Monday 5 January 2026: two on Monday, two on Tuesday, one on Wednesday fill the week.
        let taken = [
            berlin_at("2026-01-05 09:00"),
            berlin_at("2026-01-05 16:00"),
            berlin_at("2026-01-06 09:00"),
            berlin_at("2026-01-06 16:00"),
            berlin_at("2026-01-07 09:00"),
        ];
        let thursday = berlin_at("2026-01-08 10:30");
        assert!(!fits(&taken, thursday, berlin(), Caps::DEFAULT));
        assert_eq!(
            next_free_slot(&taken, thursday, berlin(), Caps::DEFAULT),
            Some(berlin_at("2026-01-12 10:30"))
        );
    }

    #[test]
    fn both_caps_apply_so_a_slot_skips_full_days_and_then_a_full_week() {
        let caps = Caps {
            per_day: 1,
            per_week: 3,
        };
        let taken = [
            berlin_at("2026-01-05 09:00"),
            berlin_at("2026-01-06 09:00"),
            berlin_at("2026-01-08 09:00"),
            berlin_at("2026-01-12 09:00"),
        ];
        // Monday is full for the day; Tuesday too; Wednesday has room in day and week.
        assert_eq!(
            next_free_slot(&taken[..2], berlin_at("2026-01-05 12:00"), berlin(), caps),
            Some(berlin_at("2026-01-07 12:00"))
        );
        // With Thursday taken as well the week is full, and next Monday is full for the day.
        assert_eq!(
            next_free_slot(&taken, berlin_at("2026-01-07 12:00"), berlin(), caps),
            Some(berlin_at("2026-01-13 12:00"))
        );
    }

    #[test]
    fn the_slot_offered_always_fits_and_is_never_earlier_than_asked() {
        let taken = [
            berlin_at("2026-03-23 09:00"),
            berlin_at("2026-03-23 18:00"),
            berlin_at("2026-03-24 09:00"),
            berlin_at("2026-03-26 09:00"),
            berlin_at("2026-03-26 18:00"),
            berlin_at("2026-03-30 01:00"),
            berlin_at("2026-03-30 02:00"),
        ];
        let caps = Caps::DEFAULT;
        let mut wanted = at("2026-03-22 00:15");
        while wanted < at("2026-04-02 00:00") {
            let slot = next_free_slot(&taken, wanted, berlin(), caps).unwrap();
            assert!(slot >= wanted, "{slot} is before {wanted}");
            assert!(
                fits(&taken, slot, berlin(), caps),
                "{slot} for {wanted} does not fit"
            );
            assert_eq!(slot == wanted, fits(&taken, wanted, berlin(), caps));
            wanted += TimeDelta::minutes(97);
        }
    }

    #[test]
    fn a_post_on_several_platforms_waits_for_a_day_with_room_on_all_of_them() {
        let caps = Caps {
            per_day: 1,
            per_week: 5,
        };
        let linkedin = [berlin_at("2026-01-06 08:00"), berlin_at("2026-01-08 08:00")];
        let mastodon = [berlin_at("2026-01-07 08:00"), berlin_at("2026-01-09 08:00")];
        let wanted = berlin_at("2026-01-06 10:00");
        // Tuesday is full on LinkedIn, Wednesday on Mastodon, Thursday on LinkedIn again, Friday
        // on Mastodon: only Saturday suits both.
        let slot = next_free_slot_all(&[(&linkedin, caps), (&mastodon, caps)], wanted, berlin());
        assert_eq!(slot, Some(berlin_at("2026-01-10 10:00")));
        let slot = slot.unwrap();
        assert!(fits(&linkedin, slot, berlin(), caps) && fits(&mastodon, slot, berlin(), caps));
        assert_eq!(
            next_free_slot_all(
                &[(&linkedin, caps)],
                berlin_at("2026-01-07 10:00"),
                berlin()
            ),
            Some(berlin_at("2026-01-07 10:00"))
        );
    }

    #[test]
    fn a_cap_of_zero_means_no_slot_ever_fits() {
        let none_per_day = Caps {
            per_day: 0,
            per_week: 5,
        };
        let none_per_week = Caps {
            per_day: 2,
            per_week: 0,
        };
        let wanted = berlin_at("2026-01-06 10:00");
        assert!(!fits(&[], wanted, berlin(), none_per_day));
        assert_eq!(next_free_slot(&[], wanted, berlin(), none_per_day), None);
        assert_eq!(next_free_slot(&[], wanted, berlin(), none_per_week), None);
        let open = Caps::DEFAULT;
        assert_eq!(
            next_free_slot_all(&[(&[], open), (&[], none_per_week)], wanted, berlin()),
            None
        );
    }

    #[test]
    fn the_calendar_shows_the_room_left_by_both_the_day_and_the_week() {
        let taken = [
            berlin_at("2026-01-05 09:00"),
            berlin_at("2026-01-06 09:00"),
            berlin_at("2026-01-06 16:00"),
            berlin_at("2026-01-07 09:00"),
        ];
        let room = |day| room_on_day(&taken, date(day), berlin(), Caps::DEFAULT);
        assert_eq!(room("2026-01-05"), 1);
        assert_eq!(room("2026-01-06"), 0);
        // Four of five weekly posts are taken, so Thursday has room for one, not two.
        assert_eq!(room("2026-01-08"), 1);
        assert_eq!(room("2026-01-12"), 2);
    }
}
