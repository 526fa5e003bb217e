//! The hub's schedule as an iCalendar document (RFC 5545), for the private
//! calendar address comms people subscribe to in their own calendar app.
//! It holds posts only: nothing about any employee.

use chrono::{Duration, NaiveDateTime};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use super::platforms::Platform;
use super::post::PostStatus;

/// How long a post's entry lasts in the calendar (it is a moment, but a
/// zero-length event is hard to see in most calendar apps).
const ENTRY_MINUTES: i64 = 15;

/// One post in the schedule.
pub struct Entry<'a> {
    pub post_id: i64,
    pub title: &'a str,
    pub link: &'a str,
    pub status: PostStatus,
    pub publish_at: NaiveDateTime,
    pub platforms: Vec<Platform>,
}

/// The calendar: one event per post, at its publish time (UTC), linking to
/// the post in the hub. Withdrawn posts stay as cancelled events, so a
/// calendar that had them removes them.
/// `generated_at` is each event's DTSTAMP (RFC 5545 §3.8.7.2: for a
/// calendar that is not a scheduling message, when it was produced).
pub fn render(
    org_name: &str,
    base_url: &str,
    generated_at: NaiveDateTime,
    entries: &[Entry<'_>],
) -> String {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("chorus");
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", "-//Chorus//Hub schedule//EN"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .name(&format!("{org_name}: hub schedule"));
    for entry in entries {
        let start = entry.publish_at.and_utc();
        let names: Vec<&str> = entry.platforms.iter().map(|p| p.name()).collect();
        let status = match entry.status {
            PostStatus::Withdrawn => EventStatus::Cancelled,
            PostStatus::Draft | PostStatus::Submitted | PostStatus::Approved => {
                EventStatus::Tentative
            }
            _ => EventStatus::Confirmed,
        };
        let description = format!(
            "{}\nPlatforms: {}\nStatus: {}\nIn the hub: {base_url}/hub/posts/{}",
            entry.link,
            if names.is_empty() {
                "none yet".to_string()
            } else {
                names.join(", ")
            },
            entry.status.as_str(),
            entry.post_id
        );
        calendar.push(
            Event::new()
                .uid(&format!("post-{}@{host}", entry.post_id))
                .summary(entry.title)
                .description(&description)
                .url(&format!("{base_url}/hub/posts/{}", entry.post_id))
                .starts(start)
                .ends(start + Duration::minutes(ENTRY_MINUTES))
                .status(status)
                .timestamp(generated_at.and_utc())
                .done(),
        );
    }
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(h, 30, 0)
            .unwrap()
    }

    #[test]
    fn each_post_is_one_event_at_its_publish_time_with_a_stable_uid() {
        let ics = render(
            "Acme",
            "https://chorus.example.com",
            at(8),
            &[Entry {
                post_id: 42,
                title: "Annual report, out now",
                link: "https://acme.example/report",
                status: PostStatus::Scheduled,
                publish_at: at(9),
                platforms: vec![Platform::LinkedIn, Platform::X],
            }],
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
        assert!(ics.contains("UID:post-42@chorus.example.com"), "{ics}");
        assert!(ics.contains("DTSTART:20261207T093000Z"), "{ics}");
        assert!(ics.contains("SUMMARY:Annual report\\, out now"), "{ics}");
        assert!(ics.contains("STATUS:CONFIRMED"), "{ics}");
        assert!(
            ics.contains("URL:https://chorus.example.com/hub/posts/42"),
            "{ics}"
        );
        assert!(ics.trim_end().ends_with("END:VCALENDAR"), "{ics}");
    }

    #[test]
    fn a_withdrawn_post_is_a_cancelled_event() {
        let ics = render(
            "Acme",
            "http://127.0.0.1:8080",
            at(10),
            &[Entry {
                post_id: 7,
                title: "Gone",
                link: "https://acme.example/gone",
                status: PostStatus::Withdrawn,
                publish_at: at(9),
                platforms: vec![],
            }],
        );
        assert!(ics.contains("STATUS:CANCELLED"), "{ics}");
        assert!(ics.contains("UID:post-7@127.0.0.1"), "{ics}");
    }
}
