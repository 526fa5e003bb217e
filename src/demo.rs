//! `chorus demo`: fills the database with a realistic organisation so a
//! newcomer sees Chorus at work at once. Deterministic for a given seed;
//! rows are written in batches inside transactions.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::DbConnection;
use crate::db::schema::{
    consent_events, consent_state, departments, dismissals, post_captions, post_departments, posts,
    shares, users,
};
use crate::domain::consent::{Action, ConsentEvent, Purpose};
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::ops::progress::{Progress, Quiet};
use crate::store::{self, StoreError, StoreResult};

/// The password of every demo account (printed by the command).
pub const DEMO_PASSWORD: &str = "harbour lantern orchid seven";

#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub employees: usize,
    pub posts: usize,
    pub weeks: i64,
    pub seed: u64,
    /// About how many shares to make; by default each person who opted in
    /// shares 12 % of the posts.
    pub shares: Option<usize>,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize {
            employees: 200,
            posts: 60,
            weeks: 8,
            seed: 7,
            shares: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub people: usize,
    pub posts: usize,
    pub shares: usize,
    pub dismissals: usize,
    pub consent_events: usize,
}

const DEPARTMENTS: [&str; 8] = [
    "Sales",
    "Engineering",
    "Marketing",
    "Support",
    "Finance",
    "People",
    "Operations",
    "Research",
];
const FIRST: [&str; 16] = [
    "Ada", "Ben", "Chloé", "Dmitri", "Esra", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Luca", "Mei", "Nils", "Olu", "Priya",
];
const LAST: [&str; 12] = [
    "Lovelace", "Okafor", "Müller", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski", "Larsen",
    "Moreau", "Nguyen", "Rossi",
];
const TOPICS: [&str; 10] = [
    "Our annual report is out",
    "We are hiring engineers in Lisbon",
    "New customer story: how a hospital saves time",
    "Join our open day next month",
    "Our sustainability results for the year",
    "A new release is live",
    "Meet the team behind our support desk",
    "We won an industry award",
    "Read our research on remote work",
    "Volunteering day: what we did together",
];

const BATCH: usize = 500;

/// Multi-row INSERT: it does not pass through the multi-backend
/// connection, so each backend gets it directly.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConnection::Postgresql(c) => diesel::insert_into($table).values($rows).execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c)?,
        }
    };
}

/// The index of the next post a person marks, from `from` on, when each
/// is marked with probability `p` (0 < p ≤ 1): a geometric skip.
fn next_marked(rng: &mut StdRng, p: f64, from: usize) -> usize {
    if p >= 1.0 {
        return from;
    }
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let skip = (u.ln() / (1.0 - p).ln()).floor();
    from.saturating_add(if skip < 1e15 {
        skip as usize
    } else {
        usize::MAX / 2
    })
}

/// Whether the database already holds people (then `serve --demo` leaves it alone).
pub fn has_people(conn: &mut DbConnection) -> StoreResult<bool> {
    Ok(users::table.count().get_result::<i64>(conn)? > 0)
}

/// After [`generate`], outside its transaction: on PostgreSQL, `VACUUM
/// ANALYZE`, as after any bulk load. Without it the planner has no
/// statistics for the million new rows and index-only scans must visit
/// every row's page until autovacuum gets round to it, which it then does
/// in the middle of the first visitors' requests. SQLite needs nothing.
pub fn settle(conn: &mut DbConnection) -> StoreResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::connection::SimpleConnection::batch_execute(pg, "VACUUM ANALYZE")?;
    }
    Ok(())
}

/// Fills an empty organisation. The password hash is computed once by the caller.
pub fn generate(
    conn: &mut DbConnection,
    size: DemoSize,
    password_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<DemoReport> {
    generate_showing(conn, size, password_hash, now, &mut Quiet)
}

/// [`generate`], telling `progress` how far it has got.
pub fn generate_showing(
    conn: &mut DbConnection,
    size: DemoSize,
    password_hash: &str,
    now: NaiveDateTime,
    progress: &mut dyn Progress,
) -> StoreResult<DemoReport> {
    let mut rng = StdRng::seed_from_u64(size.seed);
    let mut report = DemoReport::default();
    let mut fill = |conn: &mut DbConnection| {
        diesel::sql_query(
            "UPDATE org_settings SET org_name = 'Acme Demo', enabled_platforms = 'linkedin,x,mastodon,bluesky,threads', setup_completed_at = CURRENT_TIMESTAMP",
        )
        .execute(conn)?;
        for p in Platform::ALL {
            store::hub_caps::set_caps(
                conn,
                p,
                crate::domain::schedule::Caps {
                    per_day: 10,
                    per_week: 50,
                },
            )?;
        }
        for name in DEPARTMENTS {
            diesel::insert_into(departments::table)
                .values((
                    departments::name.eq(name),
                    departments::name_key.eq(name.to_lowercase()),
                    departments::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        let department_ids: Vec<i64> = departments::table
            .select(departments::id)
            .order(departments::id)
            .load(conn)?;
        let mut people = Vec::new();
        let fixed = [
            ("admin@demo.example", "Alex Admin", false, false, true),
            ("comms@demo.example", "Casey Comms", true, true, false),
        ];
        for (email, name, employee, comms, admin) in fixed {
            people.push((
                email.to_string(),
                name.to_string(),
                None,
                employee,
                comms,
                admin,
            ));
        }
        for i in 0..size.employees {
            let name = format!(
                "{} {}",
                FIRST[rng.random_range(0..FIRST.len())],
                LAST[rng.random_range(0..LAST.len())]
            );
            let dept = department_ids[rng.random_range(0..department_ids.len())];
            people.push((
                format!("employee{:05}@demo.example", i + 1),
                name,
                Some(dept),
                true,
                false,
                false,
            ));
        }
        progress.stage("people", people.len() as u64);
        for chunk in people.chunks(BATCH) {
            progress.advance(chunk.len() as u64);
            let rows: Vec<_> = chunk
                .iter()
                .map(|(email, name, dept, employee, comms, admin)| {
                    (
                        users::email.eq(email.clone()),
                        users::name.eq(name.clone()),
                        users::department_id.eq(*dept),
                        users::is_employee.eq(*employee),
                        users::is_comms.eq(*comms),
                        users::is_admin.eq(*admin),
                        users::active.eq(true),
                        users::password_hash.eq(Some(password_hash.to_string())),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                        users::record_key.eq(rand::random::<i64>()),
                    )
                })
                .collect();
            insert_batch!(conn, users::table, rows);
        }
        report.people = people.len();
        let admin_id: i64 = users::table
            .filter(users::email.eq("admin@demo.example"))
            .select(users::id)
            .first(conn)?;
        let comms_id: i64 = users::table
            .filter(users::email.eq("comms@demo.example"))
            .select(users::id)
            .first(conn)?;
        let employees: Vec<(i64, Option<i64>)> = users::table
            .filter(users::is_employee.eq(true))
            .order(users::id)
            .select((users::id, users::department_id))
            .load(conn)?;

        // Policy, then consent as events with their hash chains and state.
        let start = now - Duration::weeks(size.weeks);
        store::policy::publish(
            conn,
            "# Social-media policy\n\nShare what you like, on your own accounts, in your own words. Say that you work here.",
            false,
            admin_id,
            start,
        )?;
        let policy = store::policy::current(conn)?.ok_or(diesel::result::Error::NotFound)?;
        let enabled = [
            Platform::LinkedIn,
            Platform::X,
            Platform::Mastodon,
            Platform::Bluesky,
            Platform::Threads,
        ];
        let mut events = Vec::new();
        let mut states = Vec::new();
        let mut opted: Vec<(i64, Vec<Platform>)> = Vec::new();
        for (user_id, _) in &employees {
            let mut previous: Option<String> = None;
            let mut mine = Vec::new();
            for purpose in enabled
                .iter()
                .map(|p| Purpose::ShareSuggestions(*p))
                .chain([Purpose::EmailDigest])
            {
                let roll: f64 = rng.random();
                let action = if roll < 0.45 {
                    Action::Given
                } else if roll < 0.6 {
                    Action::Refused
                } else {
                    continue;
                };
                let at = start
                    + Duration::minutes(rng.random_range(0..(size.weeks * 7 * 24 * 60).max(1)));
                let event = ConsentEvent {
                    event_uuid: uuid::Builder::from_random_bytes(rng.random())
                        .into_uuid()
                        .to_string(),
                    user_id: *user_id,
                    purpose: purpose.name().into(),
                    platform: purpose.platform_slug().into(),
                    action: action.as_str().into(),
                    policy_version: policy.version,
                    policy_sha256: policy.sha256.clone(),
                    collection_method: "demo data".into(),
                    actor: format!("user:{user_id}"),
                    language: "en".into(),
                    jurisdiction: "EU".into(),
                    created_at: at,
                    prev_hash: String::new(),
                    hash: String::new(),
                }
                .sealed_after(previous.as_deref());
                previous = Some(event.hash.clone());
                states.push((*user_id, purpose, action, event.event_uuid.clone(), at));
                if let (Purpose::ShareSuggestions(p), Action::Given) = (purpose, action) {
                    mine.push(p);
                }
                events.push(event);
            }
            opted.push((*user_id, mine));
        }
        progress.stage("consent events", events.len() as u64);
        for chunk in events.chunks(BATCH) {
            progress.advance(chunk.len() as u64);
            let rows: Vec<_> = chunk
                .iter()
                .map(|e| {
                    (
                        consent_events::event_uuid.eq(e.event_uuid.clone()),
                        consent_events::user_id.eq(e.user_id),
                        consent_events::purpose.eq(e.purpose.clone()),
                        consent_events::platform.eq(e.platform.clone()),
                        consent_events::action.eq(e.action.clone()),
                        consent_events::policy_version.eq(e.policy_version),
                        consent_events::policy_sha256.eq(e.policy_sha256.clone()),
                        consent_events::collection_method.eq(e.collection_method.clone()),
                        consent_events::actor.eq(e.actor.clone()),
                        consent_events::language.eq(e.language.clone()),
                        consent_events::jurisdiction.eq(e.jurisdiction.clone()),
                        consent_events::created_at.eq(e.created_at),
                        consent_events::prev_hash.eq(e.prev_hash.clone()),
                        consent_events::hash.eq(e.hash.clone()),
                    )
                })
                .collect();
            insert_batch!(conn, consent_events::table, rows);
        }
        report.consent_events = events.len();
        progress.stage("consent states", states.len() as u64);
        for chunk in states.chunks(BATCH) {
            progress.advance(chunk.len() as u64);
            let rows: Vec<_> = chunk
                .iter()
                .map(|(user_id, purpose, action, uuid, at)| {
                    (
                        consent_state::user_id.eq(*user_id),
                        consent_state::purpose.eq(purpose.name()),
                        consent_state::platform.eq(purpose.platform_slug()),
                        consent_state::status.eq(action.status_after().as_str()),
                        consent_state::policy_version.eq(policy.version),
                        consent_state::instance
                            .eq((*purpose == Purpose::ShareSuggestions(Platform::Mastodon))
                                .then_some("mastodon.social")),
                        consent_state::last_event_uuid.eq(uuid.clone()),
                        consent_state::updated_at.eq(*at),
                    )
                })
                .collect();
            insert_batch!(conn, consent_state::table, rows);
        }
        progress.stage("consent seals", 0);
        crate::store::consent::seal_all(conn)?;

        // Posts spread over the weeks, a few withdrawn, a few still scheduled.
        let mut post_rows = Vec::new();
        for i in 0..size.posts {
            let offset = Duration::minutes(rng.random_range(0..(size.weeks * 7 * 24 * 60).max(1)));
            let future = i % 15 == 14;
            let published_at = if future {
                now + Duration::hours(rng.random_range(2..72))
            } else {
                start + offset
            };
            let status = if future {
                PostStatus::Scheduled
            } else if i % 20 == 19 {
                PostStatus::Withdrawn
            } else {
                PostStatus::Published
            };
            let topic = TOPICS[i % TOPICS.len()];
            post_rows.push((
                i,
                topic,
                published_at,
                status,
                rng.random_range(0..3_u8) == 0,
            ));
        }
        progress.stage("posts", post_rows.len() as u64);
        for (i, topic, at, status, targeted) in &post_rows {
            progress.advance(1);
            let id: i64 = {
                let values = (
                    posts::title.eq(format!("{topic} ({})", i + 1)),
                    posts::link.eq(format!("https://acme.example/news/{}", i + 1)),
                    posts::base_text.eq(topic.to_string()),
                    posts::status.eq(status.as_str()),
                    posts::target_all.eq(!targeted),
                    posts::publish_at.eq(Some(*at)),
                    posts::published_at.eq((*status != PostStatus::Scheduled).then_some(*at)),
                    posts::withdrawn_at
                        .eq((*status == PostStatus::Withdrawn).then_some(*at + Duration::hours(6))),
                    posts::withdrawal_reason
                        .eq((*status == PostStatus::Withdrawn).then_some("Figures updated")),
                    posts::created_by.eq(Some(comms_id)),
                    posts::created_at.eq(*at - Duration::hours(1)),
                    posts::updated_at.eq(*at),
                );
                let query = diesel::insert_into(posts::table).values(values);
                match conn {
                    DbConnection::Postgresql(c) => query.returning(posts::id).get_result(c)?,
                    DbConnection::Sqlite(c) => query.returning(posts::id).get_result(c)?,
                }
            };
            if *targeted {
                diesel::insert_into(post_departments::table)
                    .values((
                        post_departments::post_id.eq(id),
                        post_departments::department_id
                            .eq(department_ids[i % department_ids.len()]),
                    ))
                    .execute(conn)?;
            }
            let caption_rows: Vec<_> = enabled
                .iter()
                .filter(|_| rng.random_range(0..4_u8) > 0)
                .flat_map(|p| {
                    [1, 2].map(|variant| {
                        (
                            post_captions::post_id.eq(id),
                            post_captions::platform.eq(p.slug()),
                            post_captions::variant.eq(variant),
                            post_captions::text.eq(if variant == 1 {
                                topic.to_string()
                            } else {
                                format!("{topic}. Worth a read.")
                            }),
                        )
                    })
                })
                .collect();
            if !caption_rows.is_empty() {
                insert_batch!(conn, post_captions::table, caption_rows);
            }
        }
        report.posts = post_rows.len();

        // Shares and dismissals by people who opted in, after publication.
        let published: Vec<(i64, NaiveDateTime)> = posts::table
            .filter(posts::published_at.is_not_null())
            .select((posts::id, posts::published_at.assume_not_null()))
            .load(conn)?;
        let sharing_people = opted.iter().filter(|(_, p)| !p.is_empty()).count();
        let share_rate = match size.shares {
            None => 0.12,
            Some(wanted) => {
                (wanted as f64 / (sharing_people * published.len()).max(1) as f64).min(0.9)
            }
        };
        let dismiss_rate = share_rate / 3.0;
        let mut share_rows = Vec::new();
        let mut dismissal_rows = Vec::new();
        // Each person shares each post with `share_rate` and dismisses it
        // with `dismiss_rate`. Rather than a roll per person and post (at
        // a million employees and 50,000 posts, 45 billion rolls), the
        // posts a person marks are reached by geometric skips: as many
        // draws as marks.
        let marked = (share_rate + dismiss_rate).min(1.0);
        for (user_id, platforms) in &opted {
            if platforms.is_empty() || marked <= 0.0 {
                continue;
            }
            let mut next = next_marked(&mut rng, marked, 0);
            while let Some((post_id, at)) = published.get(next) {
                let when = (*at + Duration::minutes(rng.random_range(5..3000))).min(now);
                if rng.random::<f64>() * marked < share_rate {
                    let platform = platforms[rng.random_range(0..platforms.len())];
                    share_rows.push((*user_id, *post_id, platform, when));
                } else {
                    dismissal_rows.push((*user_id, *post_id, when));
                }
                next = next_marked(&mut rng, marked, next + 1);
            }
        }
        progress.stage("shares", share_rows.len() as u64);
        for chunk in share_rows.chunks(BATCH) {
            progress.advance(chunk.len() as u64);
            let rows: Vec<_> = chunk
                .iter()
                .map(|(u, p, platform, at)| {
                    (
                        shares::user_id.eq(*u),
                        shares::post_id.eq(*p),
                        shares::platform.eq(platform.slug()),
                        shares::variant.eq(1),
                        shares::edited.eq(false),
                        shares::shared_at.eq(*at),
                    )
                })
                .collect();
            insert_batch!(conn, shares::table, rows);
        }
        progress.stage("dismissals", dismissal_rows.len() as u64);
        for chunk in dismissal_rows.chunks(BATCH) {
            progress.advance(chunk.len() as u64);
            let rows: Vec<_> = chunk
                .iter()
                .map(|(u, p, at)| {
                    (
                        dismissals::user_id.eq(*u),
                        dismissals::post_id.eq(*p),
                        dismissals::dismissed_at.eq(*at),
                    )
                })
                .collect();
            insert_batch!(conn, dismissals::table, rows);
        }
        report.shares = share_rows.len();
        report.dismissals = dismissal_rows.len();
        progress.stage("saving", 0);
        Ok::<_, StoreError>(())
    };
    // PostgreSQL loads it all in one transaction. On SQLite each batch
    // commits on its own: in one transaction the write-ahead log grew to
    // gigabytes at a million employees and every page read searched it
    // (the load took over 20 minutes instead of about 5). A load that
    // stops half way leaves part of the demo: start again on an empty
    // data directory.
    if matches!(conn, DbConnection::Sqlite(_)) {
        // Checkpoints of a 400 MB log instead of SQLite's 4 MB: pages that
        // change again and again (the indexes) are copied far fewer times.
        diesel::sql_query("PRAGMA wal_autocheckpoint = 100000").execute(conn)?;
        let filled = fill(conn);
        diesel::sql_query("PRAGMA wal_autocheckpoint = 1000").execute(conn)?;
        filled?;
    } else {
        crate::db::write_transaction(conn, fill)?;
    }
    progress.finish();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(p: f64, posts: usize) -> usize {
        let mut rng = StdRng::seed_from_u64(7);
        let mut count = 0;
        let mut next = next_marked(&mut rng, p, 0);
        while next < posts {
            count += 1;
            next = next_marked(&mut rng, p, next + 1);
        }
        count
    }

    #[test]
    fn geometric_skips_mark_each_post_with_the_chosen_rate() {
        let marked = marks(0.1, 100_000);
        assert!((9_500..=10_500).contains(&marked), "{marked}");
        let marked = marks(0.004, 1_000_000);
        assert!((3_800..=4_200).contains(&marked), "{marked}");
        assert_eq!(marks(1.0, 1_000), 1_000, "every post");
    }
}
