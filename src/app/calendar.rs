//! The hub's schedule as a calendar: a week of scheduled and published
//! posts with the room left under each platform's caps, for the hub's
//! page, and the iCalendar document a private calendar address serves.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use super::{App, Error, Result};
use crate::domain::calendar_feed::{self, Entry};
use crate::domain::schedule;
use crate::store::posts::Post;
use crate::store::{self, StoreError};

/// How far back and ahead a calendar address reaches.
const PAST_DAYS: i64 = 60;
const AHEAD_DAYS: i64 = 366;

/// One platform's posts on one day, and how many more fit under its caps.
pub struct Day {
    /// Each post's id, title and status.
    pub posts: Vec<(i64, String, &'static str)>,
    pub room: u32,
}

/// A week of the schedule, Monday first, in the organisation's time zone.
pub struct Week {
    pub monday: NaiveDate,
    pub timezone: Tz,
    /// One row per platform in use: its name and seven days.
    pub rows: Vec<(&'static str, Vec<Day>)>,
}

impl Week {
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..7).map(|n| self.monday + Duration::days(n))
    }
}

/// The week holding `day` (today when None).
pub async fn week(app: &App, day: Option<NaiveDate>) -> Result<Week> {
    let settings = app.db.run(store::org::settings).await?;
    let tz = settings.timezone();
    let day = day.unwrap_or_else(|| schedule::local_day(app.clock.now_naive(), tz));
    let monday = schedule::week_start(day);
    let (from, to) = schedule::week_bounds_utc(monday, tz);
    let enabled = settings.enabled_platforms();
    let (posts, caps, taken) = app
        .db
        .run(move |conn| {
            let posts = store::posts::in_period(conn, from, to)?;
            let caps = store::posts::caps(conn)?;
            let mut taken = Vec::new();
            for p in &enabled {
                taken.push((*p, store::posts::taken_times(conn, *p, from, to, 0)?));
            }
            Ok::<_, StoreError>((posts, caps, taken))
        })
        .await?;
    let mut week = Week {
        monday,
        timezone: tz,
        rows: Vec::new(),
    };
    let days: Vec<NaiveDate> = week.days().collect();
    for (platform, times) in &taken {
        let on_day = |d: &NaiveDate| Day {
            posts: posts
                .iter()
                .filter(|p| p.platforms().contains(platform))
                .filter(|p| {
                    p.publish_at
                        .is_some_and(|t| schedule::local_day(t, tz) == *d)
                })
                .map(|p| (p.id, p.title.clone(), p.status.as_str()))
                .collect(),
            room: schedule::room_on_day(times, *d, tz, caps[platform]),
        };
        week.rows
            .push((platform.name(), days.iter().map(on_day).collect()));
    }
    Ok(week)
}

/// The schedule as iCalendar, for the calendar address whose secret this
/// is (its use is noted). NotFound for an unknown or revoked one.
pub async fn feed(app: &App, secret: String) -> Result<String> {
    let now = app.clock.now_naive();
    let (from, to) = (
        now - Duration::days(PAST_DAYS),
        now + Duration::days(AHEAD_DAYS),
    );
    let found = app
        .db
        .write(move |conn| {
            if !store::calendar_feeds::opens(conn, &secret, now)? {
                return Ok::<_, StoreError>(None);
            }
            let settings = store::org::settings(conn)?;
            let posts = store::posts::in_period(conn, from, to)?;
            Ok(Some((settings.org_name, posts)))
        })
        .await?;
    let (org_name, posts) = found.ok_or(Error::NotFound)?;
    let entries: Vec<Entry<'_>> = posts.iter().filter_map(entry).collect();
    Ok(calendar_feed::render(
        &org_name,
        &app.base_url,
        now,
        &entries,
    ))
}

fn entry(post: &Post) -> Option<Entry<'_>> {
    Some(Entry {
        post_id: post.id,
        title: &post.title,
        link: &post.link,
        status: post.status,
        publish_at: post.publish_at?,
        platforms: post.platforms(),
    })
}
