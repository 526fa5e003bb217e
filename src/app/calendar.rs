//! The hub's schedule as a calendar: whole weeks of scheduled and
//! published posts with the room left under each platform's caps, for the
//! hub's month and week views, and the iCalendar document a private
//! calendar address serves.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::{App, Error, Result};
use crate::domain::calendar_feed::{self, Entry};
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::schedule;
use crate::store::posts::Post;
use crate::store::{self, StoreError};

/// How far back and ahead a calendar address reaches.
const PAST_DAYS: i64 = 60;
const AHEAD_DAYS: i64 = 366;

/// A post on the calendar: when it goes out, in the organisation's time.
pub struct Chip {
    pub id: i64,
    pub title: String,
    pub status: PostStatus,
    /// "09:30".
    pub time: String,
    pub platforms: Vec<Platform>,
}

/// One day of the calendar: its posts in time order, and per platform in
/// use how many more the hub caps allow that day.
pub struct Day {
    pub date: NaiveDate,
    pub posts: Vec<Chip>,
    pub room: Vec<(Platform, u32)>,
}

/// Whole weeks of the schedule, Monday first, in the organisation's time
/// zone.
pub struct Weeks {
    pub timezone: Tz,
    /// Today, in that time zone.
    pub today: NaiveDate,
    pub days: Vec<Day>,
}

/// The organisation's time zone and today's date in it.
pub async fn today(app: &App) -> Result<(NaiveDate, Tz)> {
    let tz = app.db.run(store::org::settings).await?.timezone();
    Ok((schedule::local_day(app.clock.now_naive(), tz), tz))
}

/// `count` whole weeks from the week holding `from`.
pub async fn weeks(app: &App, from: NaiveDate, count: u32) -> Result<Weeks> {
    let settings = app.db.run(store::org::settings).await?;
    let tz = settings.timezone();
    let monday = schedule::week_start(from);
    let days: Vec<NaiveDate> = (0..i64::from(count.clamp(1, 6)) * 7)
        .map(|n| monday + Duration::days(n))
        .collect();
    let (start, end) = (
        schedule::day_bounds_utc(days[0], tz).0,
        schedule::day_bounds_utc(days[days.len() - 1], tz).1,
    );
    let enabled = settings.enabled_platforms();
    let (posts, caps, taken) = app
        .db
        .run(move |conn| {
            let posts = store::posts::in_period(conn, start, end)?;
            let caps = store::hub_caps::caps(conn)?;
            // Caps count whole weeks: read from the first Monday on.
            let mut taken = Vec::new();
            for p in &enabled {
                taken.push((*p, store::posts::taken_times(conn, *p, start, end, 0)?));
            }
            Ok::<_, StoreError>((posts, caps, taken))
        })
        .await?;
    let day_of = |date: NaiveDate| {
        let mut on_day: Vec<(NaiveDateTime, Chip)> = posts
            .iter()
            .filter_map(|p| {
                let at = p.publish_at?;
                (schedule::local_day(at, tz) == date).then(|| (at, chip(p, at, tz)))
            })
            .collect();
        on_day.sort_by_key(|(at, chip)| (*at, chip.id));
        Day {
            date,
            posts: on_day.into_iter().map(|(_, chip)| chip).collect(),
            room: taken
                .iter()
                .map(|(p, times)| (*p, schedule::room_on_day(times, date, tz, caps[p])))
                .collect(),
        }
    };
    Ok(Weeks {
        timezone: tz,
        today: schedule::local_day(app.clock.now_naive(), tz),
        days: days.into_iter().map(day_of).collect(),
    })
}

fn chip(post: &Post, at: NaiveDateTime, tz: Tz) -> Chip {
    Chip {
        id: post.id,
        title: post.title.clone(),
        status: post.status,
        time: schedule::utc_to_local(at, tz).format("%H:%M").to_string(),
        platforms: post.platforms(),
    }
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
