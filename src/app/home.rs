//! The start page's state for each role: what waits for the person and
//! what is left, so the page says what to do next. Nothing here counts or
//! names what colleagues chose or shared.

use chrono::{Duration, NaiveDateTime};

use super::{App, Result};
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::schedule;
use crate::store::posts::Post;
use crate::store::users::User;
use crate::store::{self, StoreError};

/// How many of the next scheduled posts the comms start page lists.
const NEXT_POSTS: usize = 3;

/// For an employee: how many posts wait in their queue and, per platform
/// they said yes to, how many shares their caps leave today.
pub struct EmployeeHome {
    pub waiting: i64,
    /// Per platform: shares left today, and whether sharing is paused (a
    /// cap of 0).
    pub left_today: Vec<(Platform, u32)>,
}

pub async fn employee(app: &App, user: &User) -> Result<EmployeeHome> {
    let loaded = super::queue::load(app, user, 1).await?;
    let situation = &loaded.situation;
    let left_today = situation
        .consented
        .iter()
        .map(|(platform, _)| {
            let (day, week) = situation.standings[platform].remaining();
            (*platform, day.min(week))
        })
        .collect();
    Ok(EmployeeHome {
        waiting: loaded.total,
        left_today,
    })
}

/// For comms: suggestions to review, the next posts going out, and how
/// many more posts the hub caps allow this week.
pub struct CommsHome {
    pub suggestions: usize,
    pub next: Vec<Post>,
    /// Per platform in use: posts left this week.
    pub week_room: Vec<(Platform, u32)>,
    pub timezone: chrono_tz::Tz,
}

pub async fn comms(app: &App) -> Result<CommsHome> {
    let now = app.clock.now_naive();
    let found = app
        .db
        .run(move |conn| {
            let settings = store::org::settings(conn)?;
            let tz = settings.timezone();
            let today = schedule::local_day(now, tz);
            let (week_from, week_to) = schedule::week_bounds_utc(today, tz);
            let caps = store::hub_caps::caps(conn)?;
            let mut week_room = Vec::new();
            for platform in settings.enabled_platforms() {
                let taken = store::posts::taken_times(conn, platform, week_from, week_to, 0)?;
                let room = schedule::room_in_week(&taken, today, tz, caps[&platform]);
                week_room.push((platform, room));
            }
            let suggestions = store::suggestions::for_hub(conn)?
                .iter()
                .filter(|s| s.status == store::suggestions::SuggestionStatus::New)
                .count();
            let next = next_scheduled(conn, now)?;
            Ok::<_, StoreError>(CommsHome {
                suggestions,
                next,
                week_room,
                timezone: tz,
            })
        })
        .await?;
    Ok(found)
}

/// The next posts scheduled to go out, soonest first.
fn next_scheduled(
    conn: &mut crate::db::DbConnection,
    now: NaiveDateTime,
) -> std::result::Result<Vec<Post>, StoreError> {
    let mut ahead: Vec<Post> = store::posts::in_period(conn, now, now + Duration::days(366))?
        .into_iter()
        .filter(|p| p.status == PostStatus::Scheduled)
        .collect();
    ahead.sort_by_key(|p| (p.publish_at, p.id));
    ahead.truncate(NEXT_POSTS);
    Ok(ahead)
}

/// For admins: whether a policy is published, invitations no one has
/// used yet, and whether email is getting out.
pub struct AdminHome {
    /// The current policy's version and when it was published.
    pub policy: Option<(i64, NaiveDateTime)>,
    pub unused_invitations: i64,
    /// Emails that failed and wait for an admin (Admin → Email).
    pub failed_emails: usize,
    /// How email leaves: the relay's host, or the outbox folder.
    pub transport: String,
}

pub async fn admin(app: &App) -> Result<AdminHome> {
    let (policy, unused_invitations) = app
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                store::policy::current(conn)?.map(|p| (p.version, p.published_at)),
                store::users::count_never_signed_in(conn)?,
            ))
        })
        .await?;
    let email = super::email::overview(app).await?;
    Ok(AdminHome {
        policy,
        unused_invitations,
        failed_emails: email.failed.iter().map(|g| g.messages).sum(),
        transport: email.transport,
    })
}
