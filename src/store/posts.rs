//! Hub posts: drafts, scheduling under the hub caps, publishing and expiry
//! (by the background job), and withdrawal. Caps are enforced in one
//! transaction that serialises all scheduling, on every backend.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreResult};
use crate::db::schema::{org_settings, post_captions, post_departments, posts};
use crate::domain::platforms::Platform;
use crate::domain::post::{PostStatus, approval};
use crate::domain::schedule::{self, Caps};

#[derive(Debug, Clone)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub link: String,
    pub base_text: String,
    pub status: PostStatus,
    pub target_all: bool,
    pub department_ids: Vec<i64>,
    pub publish_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub withdrawn_at: Option<NaiveDateTime>,
    pub withdrawal_reason: Option<String>,
    /// Caption variants per platform, in catalogue order.
    pub captions: Captions,
    pub created_by: Option<i64>,
    /// Who last changed the post's content.
    pub edited_by: Option<i64>,
    /// Moves on with every edit: an approval is for one revision.
    pub revision: i32,
    pub approved_by: Option<i64>,
    pub approved_at: Option<NaiveDateTime>,
}

/// A post's caption variants per platform, in catalogue order, packed into
/// one text. Every queue keeps tens of thousands of posts in memory at a
/// very busy hub; as a vector of vectors of strings, three platforms with
/// two variants each took nine allocations (about 640 bytes), packed two
/// (about 320).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captions {
    /// Every variant's text, one after the other.
    text: Box<str>,
    /// Each variant's platform and where its text ends in `text`, grouped
    /// by platform in catalogue order, variants in their order.
    variants: Box<[(Platform, u32)]>,
}

impl Captions {
    /// The platforms with a caption, in catalogue order.
    pub fn platforms(&self) -> impl Iterator<Item = Platform> + '_ {
        // Each platform's variants are together: its first one names it.
        self.variants
            .iter()
            .enumerate()
            .filter(|(i, (platform, _))| *i == 0 || self.variants[i - 1].0 != *platform)
            .map(|(_, (platform, _))| *platform)
    }

    pub fn is_empty(&self) -> bool {
        self.variants.is_empty()
    }

    pub fn has(&self, platform: Platform) -> bool {
        self.variants.iter().any(|(p, _)| *p == platform)
    }

    /// The platform's variants, in order (none when it has no caption).
    pub fn variants(&self, platform: Platform) -> impl Iterator<Item = &str> + '_ {
        self.texts()
            .filter(move |(p, _)| *p == platform)
            .map(|(_, text)| text)
    }

    /// How many variants the platform has.
    pub fn count(&self, platform: Platform) -> usize {
        self.variants.iter().filter(|(p, _)| *p == platform).count()
    }

    /// Each platform with its variants, in catalogue order.
    pub fn by_platform(&self) -> impl Iterator<Item = (Platform, Vec<&str>)> + '_ {
        self.platforms()
            .map(|platform| (platform, self.variants(platform).collect()))
    }

    /// Every variant with its platform, in order.
    fn texts(&self) -> impl Iterator<Item = (Platform, &str)> + '_ {
        let mut start = 0;
        self.variants.iter().map(move |(platform, end)| {
            let end = *end as usize;
            let text = self.text.get(start..end).unwrap_or_default();
            start = end;
            (*platform, text)
        })
    }

    /// The bytes the captions hold on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.text.len() + std::mem::size_of_val(&*self.variants)
    }
}

/// Captions from each platform's variants (sorted into catalogue order; a
/// platform listed twice keeps both lists' variants, the first list's first).
impl FromIterator<(Platform, Vec<String>)> for Captions {
    fn from_iter<I: IntoIterator<Item = (Platform, Vec<String>)>>(lists: I) -> Captions {
        let mut lists: Vec<(Platform, Vec<String>)> = lists.into_iter().collect();
        lists.sort_by_key(|(platform, _)| *platform);
        let mut text = String::with_capacity(
            lists
                .iter()
                .flat_map(|(_, variants)| variants)
                .map(String::len)
                .sum(),
        );
        let mut variants = Vec::new();
        for (platform, list) in lists {
            for variant in list {
                text.push_str(&variant);
                // Captions are limited to a few thousand characters by the
                // composer; a post's all together stay far below 4 GB.
                variants.push((platform, u32::try_from(text.len()).unwrap_or(u32::MAX)));
            }
        }
        Captions {
            text: text.into_boxed_str(),
            variants: variants.into_boxed_slice(),
        }
    }
}

impl Post {
    pub fn platforms(&self) -> Vec<Platform> {
        self.captions.platforms().collect()
    }
}

type PostRow = (
    i64,
    String,
    String,
    String,
    String,
    bool,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
    (
        Option<i64>,
        Option<i64>,
        i32,
        Option<i64>,
        Option<NaiveDateTime>,
    ),
);

macro_rules! post_columns {
    () => {
        (
            posts::id,
            posts::title,
            posts::link,
            posts::base_text,
            posts::status,
            posts::target_all,
            posts::publish_at,
            posts::expires_at,
            posts::published_at,
            posts::withdrawn_at,
            posts::withdrawal_reason,
            (
                posts::created_by,
                posts::edited_by,
                posts::revision,
                posts::approved_by,
                posts::approved_at,
            ),
        )
    };
}

fn captions_of(conn: &mut DbConnection, post_ids: &[i64]) -> StoreResult<HashMap<i64, Captions>> {
    let mut by_post: HashMap<i64, Captions> = HashMap::new();
    // Each chunk's rows are packed before the next is read: the hub's
    // posts have hundreds of thousands of captions, and their rows (with
    // each platform's name) held at once would double the memory.
    for ids in post_ids.chunks(super::IDS_PER_STATEMENT) {
        let rows: Vec<(i64, String, i32, String)> = post_captions::table
            .filter(post_captions::post_id.eq_any(ids))
            .order((
                post_captions::post_id,
                post_captions::platform,
                post_captions::variant,
            ))
            .select((
                post_captions::post_id,
                post_captions::platform,
                post_captions::variant,
                post_captions::text,
            ))
            .load(conn)?;
        let mut lists: HashMap<i64, Vec<(Platform, Vec<String>)>> = HashMap::new();
        for (post_id, slug, _, text) in rows {
            let Some(platform) = Platform::from_slug(&slug) else {
                continue;
            };
            let captions = lists.entry(post_id).or_default();
            match captions.iter_mut().find(|(p, _)| *p == platform) {
                Some((_, variants)) => variants.push(text),
                None => captions.push((platform, vec![text])),
            }
        }
        by_post.extend(
            lists
                .into_iter()
                .map(|(post_id, lists)| (post_id, lists.into_iter().collect())),
        );
    }
    Ok(by_post)
}

/// The departments each targeted post among `post_ids` is for (posts for
/// everyone have none listed).
pub(super) fn departments_of(
    conn: &mut DbConnection,
    post_ids: &[i64],
) -> StoreResult<HashMap<i64, Vec<i64>>> {
    let rows: Vec<(i64, i64)> = super::in_chunks(post_ids, |ids| {
        Ok(post_departments::table
            .filter(post_departments::post_id.eq_any(ids))
            .select((post_departments::post_id, post_departments::department_id))
            .load(conn)?)
    })?;
    let mut by_post: HashMap<i64, Vec<i64>> = HashMap::new();
    for (post_id, department_id) in rows {
        by_post.entry(post_id).or_default().push(department_id);
    }
    for departments in by_post.values_mut() {
        departments.shrink_to_fit();
    }
    Ok(by_post)
}

fn assemble(conn: &mut DbConnection, rows: Vec<PostRow>) -> StoreResult<Vec<Post>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut captions = captions_of(conn, &ids)?;
    let mut departments = departments_of(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| Post {
            id: r.0,
            title: r.1,
            link: r.2,
            base_text: r.3,
            status: PostStatus::parse(&r.4).unwrap_or(PostStatus::Draft),
            target_all: r.5,
            department_ids: departments.remove(&r.0).unwrap_or_default(),
            publish_at: r.6,
            expires_at: r.7,
            published_at: r.8,
            withdrawn_at: r.9,
            withdrawal_reason: r.10,
            captions: captions.remove(&r.0).unwrap_or_default(),
            created_by: r.11.0,
            edited_by: r.11.1,
            revision: r.11.2,
            approved_by: r.11.3,
            approved_at: r.11.4,
        })
        .collect())
}

pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Post>> {
    let rows = posts::table
        .filter(posts::id.eq(id))
        .select(post_columns!())
        .load::<PostRow>(conn)?;
    Ok(assemble(conn, rows)?.pop())
}

/// Several posts, in the order of `ids`.
pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> StoreResult<Vec<Post>> {
    let rows = super::in_chunks(ids, |ids| {
        Ok(posts::table
            .filter(posts::id.eq_any(ids))
            .select(post_columns!())
            .load::<PostRow>(conn)?)
    })?;
    let mut found = assemble(conn, rows)?;
    found.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
    Ok(found)
}

/// Posts read at a time by [`published`].
const PUBLISHED_PER_READ: usize = 2_000;

/// Every published post, newest first (what queues are cut from). A very
/// busy hub has tens of thousands: they are read a couple of thousand at
/// a time, with their captions, so that the rows read are never more than
/// a small part of the posts made from them. (A post published or
/// withdrawn between two reads moves the queue counter the caller read
/// first: the next view reads them all again.)
pub fn published(conn: &mut DbConnection) -> StoreResult<Vec<Post>> {
    let newest_first = (posts::published_at.desc(), posts::id.desc());
    let is_published = posts::status.eq(PostStatus::Published.as_str());
    let ids: Vec<i64> = posts::table
        .filter(is_published)
        .order(newest_first)
        .select(posts::id)
        .load(conn)?;
    let mut published = Vec::with_capacity(ids.len());
    for ids in ids.chunks(PUBLISHED_PER_READ) {
        let rows = posts::table
            .filter(posts::id.eq_any(ids))
            .filter(is_published)
            .order(newest_first)
            .select(post_columns!())
            .load::<PostRow>(conn)?;
        published.extend(assemble(conn, rows)?);
    }
    Ok(published)
}

/// A withdrawn post, as a withdrawal notice shows it.
#[derive(Debug, Clone)]
pub struct WithdrawnPost {
    pub id: i64,
    pub title: String,
    pub link: String,
    pub reason: String,
    pub withdrawn_at: NaiveDateTime,
}

/// A withdrawn post as read: id, title, link, reason, withdrawal time.
pub(crate) type WithdrawnRow = (i64, String, String, Option<String>, Option<NaiveDateTime>);

impl From<WithdrawnRow> for WithdrawnPost {
    fn from((id, title, link, reason, withdrawn_at): WithdrawnRow) -> WithdrawnPost {
        WithdrawnPost {
            id,
            title,
            link,
            reason: reason.unwrap_or_default(),
            withdrawn_at: withdrawn_at.unwrap_or_default(),
        }
    }
}

/// The withdrawn posts, by ascending id.
pub fn withdrawn(conn: &mut DbConnection) -> StoreResult<Vec<WithdrawnPost>> {
    let rows: Vec<WithdrawnRow> = posts::table
        .filter(posts::status.eq(PostStatus::Withdrawn.as_str()))
        .order(posts::id.asc())
        .select((
            posts::id,
            posts::title,
            posts::link,
            posts::withdrawal_reason,
            posts::withdrawn_at,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(WithdrawnPost::from).collect())
}

/// Posts, newest first, optionally of one status.
pub fn list(
    conn: &mut DbConnection,
    status: Option<PostStatus>,
    limit: i64,
) -> StoreResult<Vec<Post>> {
    let mut query = posts::table.select(post_columns!()).into_boxed();
    if let Some(status) = status {
        query = query.filter(posts::status.eq(status.as_str()));
    }
    let rows = query
        .order((posts::publish_at.desc(), posts::id.desc()))
        .limit(limit)
        .load::<PostRow>(conn)?;
    assemble(conn, rows)
}

/// Posts whose publish time falls in [from, to), for the calendar.
pub fn in_period(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<Post>> {
    let rows = posts::table
        .filter(posts::publish_at.ge(from).and(posts::publish_at.lt(to)))
        .filter(posts::status.ne_all([
            PostStatus::Draft.as_str(),
            PostStatus::Submitted.as_str(),
            PostStatus::Approved.as_str(),
        ]))
        .order(posts::publish_at.asc())
        .select(post_columns!())
        .load::<PostRow>(conn)?;
    assemble(conn, rows)
}

pub use crate::domain::post::PostInput;

fn write_parts(conn: &mut DbConnection, post_id: i64, input: &PostInput) -> StoreResult<()> {
    diesel::delete(post_captions::table.filter(post_captions::post_id.eq(post_id)))
        .execute(conn)?;
    diesel::delete(post_departments::table.filter(post_departments::post_id.eq(post_id)))
        .execute(conn)?;
    for (platform, variants) in &input.captions {
        for (index, text) in variants.iter().enumerate() {
            diesel::insert_into(post_captions::table)
                .values((
                    post_captions::post_id.eq(post_id),
                    post_captions::platform.eq(platform.slug()),
                    post_captions::variant.eq(index as i32 + 1),
                    post_captions::text.eq(text),
                ))
                .execute(conn)?;
        }
    }
    if !input.target_all {
        for department_id in &input.department_ids {
            diesel::insert_into(post_departments::table)
                .values((
                    post_departments::post_id.eq(post_id),
                    post_departments::department_id.eq(department_id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn create_draft(
    conn: &mut DbConnection,
    input: &PostInput,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    create_draft_by(conn, input, Some(by), now)
}

/// A draft written by `by`, or by nobody (a feed's item): then no one is
/// its author until someone edits or submits it (see [`submit`]).
pub fn create_draft_by(
    conn: &mut DbConnection,
    input: &PostInput,
    by: Option<i64>,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    crate::db::write_transaction(conn, |conn| {
        let values = (
            posts::title.eq(&input.title),
            posts::link.eq(&input.link),
            posts::base_text.eq(&input.base_text),
            posts::status.eq(PostStatus::Draft.as_str()),
            posts::target_all.eq(input.target_all || input.department_ids.is_empty()),
            posts::expires_at.eq(input.expires_at),
            posts::created_by.eq(by),
            posts::created_at.eq(now),
            posts::updated_at.eq(now),
        );
        let query = diesel::insert_into(posts::table).values(values);
        // RETURNING does not pass through the multi-backend connection.
        let id = match conn {
            DbConnection::Postgresql(c) => query.returning(posts::id).get_result::<i64>(c)?,
            DbConnection::Sqlite(c) => query.returning(posts::id).get_result::<i64>(c)?,
        };
        write_parts(conn, id, input)?;
        Ok(id)
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum EditOutcome {
    Done,
    NotFound,
    /// Published, expired or withdrawn posts are not edited.
    NotEditable,
}

/// Takes the post's row lock (PostgreSQL) or the write lock (SQLite, with
/// the IMMEDIATE transaction) before reading it, so that an approval and
/// an edit, or two approvals, are decided one after the other on fresh data.
fn lock_post(conn: &mut DbConnection, id: i64) -> StoreResult<()> {
    diesel::update(posts::table.find(id))
        .set(posts::revision.eq(posts::revision))
        .execute(conn)?;
    Ok(())
}

/// Replaces a post's content. Where that leaves its status is
/// `approval::status_after_edit`: an approved or scheduled post goes back
/// to submitted while the organisation asks for approval (its approvers
/// are asked again), else a scheduled one goes back to draft.
pub fn update(
    conn: &mut DbConnection,
    id: i64,
    input: &PostInput,
    by: i64,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<EditOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_post(conn, id)?;
        let Some(post) = find(conn, id)? else {
            return Ok(EditOutcome::NotFound);
        };
        if !post.status.is_editable() {
            return Ok(EditOutcome::NotEditable);
        }
        let needs_approval = posts_need_approval(conn)?;
        diesel::update(posts::table.find(id))
            .set((
                posts::title.eq(&input.title),
                posts::link.eq(&input.link),
                posts::base_text.eq(&input.base_text),
                posts::target_all.eq(input.target_all || input.department_ids.is_empty()),
                posts::expires_at.eq(input.expires_at),
                posts::edited_by.eq(Some(by)),
                posts::revision.eq(posts::revision + 1),
                posts::updated_at.eq(now),
            ))
            .execute(conn)?;
        write_parts(conn, id, input)?;
        let to = approval::status_after_edit(post.status, needs_approval);
        if to != post.status {
            let (action, detail) = if to == PostStatus::Submitted {
                (
                    "post.resubmitted",
                    "edited after approval: to be approved again",
                )
            } else {
                ("post.unscheduled", "edited: to be scheduled again")
            };
            let change = StatusChange {
                from: &[post.status],
                columns: StatusColumns {
                    approved_by: Some(None),
                    approved_at: Some(None),
                    ..StatusColumns::new(to, now)
                },
                actor: Actor::Person(by),
                action,
                detail,
            };
            change.apply(conn, id, now)?;
            if to == PostStatus::Submitted {
                ask_approvers(conn, id, now, mail_domain)?;
            }
        }
        Ok(EditOutcome::Done)
    })
}

/// Submits a draft for approval and emails those who may approve it.
pub fn submit(
    conn: &mut DbConnection,
    id: i64,
    by: i64,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<EditOutcome> {
    let change = StatusChange {
        from: &[PostStatus::Draft],
        columns: StatusColumns::new(PostStatus::Submitted, now),
        actor: Actor::Person(by),
        action: "post.submitted",
        detail: "",
    };
    crate::db::write_transaction(conn, |conn| {
        let outcome = change.apply_or_say_why(conn, id, now)?;
        if outcome == EditOutcome::Done {
            // A draft no one wrote or edited (a feed's item): the one who
            // submits it answers for it, so they are not its approver.
            diesel::update(
                posts::table
                    .find(id)
                    .filter(posts::created_by.is_null())
                    .filter(posts::edited_by.is_null()),
            )
            .set(posts::edited_by.eq(Some(by)))
            .execute(conn)?;
            ask_approvers(conn, id, now, mail_domain)?;
        }
        Ok(outcome)
    })
}

/// Queues an approval request to every active comms person and admin who
/// neither wrote nor edited the post, once per revision.
fn ask_approvers(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<()> {
    use crate::db::schema::users;
    let Some(post) = find(conn, id)? else {
        return Ok(());
    };
    let approvers: Vec<(i64, String)> = users::table
        .filter(users::active.eq(true))
        .filter(users::is_comms.eq(true).or(users::is_admin.eq(true)))
        .select((users::id, users::email))
        .order(users::id)
        .load(conn)?;
    for (user_id, email) in approvers {
        if approval::refusal(user_id, post.created_by, post.edited_by).is_some() {
            continue;
        }
        super::outbox::enqueue(
            conn,
            &super::outbox::NewMessage {
                kind: super::outbox::Kind::ApprovalRequest,
                user_id: Some(user_id),
                recipient: email,
                dedupe_key: format!("approval_request:{id}:{}:{user_id}", post.revision),
                payload: serde_json::json!({ "post": id, "revision": post.revision }).to_string(),
                send_before: None,
                message_id: format!("{}@{mail_domain}", uuid::Uuid::new_v4()),
            },
            now,
        )?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum ApproveOutcome {
    Approved,
    NotFound,
    /// The approver wrote or edited it (the message says so).
    OwnPost(&'static str),
    /// Changed since the approver saw it (another revision).
    Changed,
    /// Not waiting for approval: approved by someone else meanwhile, or
    /// never submitted.
    NotSubmitted,
}

/// Approves the submitted post at `revision` (any revision when `None`):
/// in one transaction that holds the post's lock, so that of two approvers
/// at once one approves and the other is told it is done, on any backend.
pub fn approve(
    conn: &mut DbConnection,
    id: i64,
    by: i64,
    revision: Option<i32>,
    now: NaiveDateTime,
) -> StoreResult<ApproveOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_post(conn, id)?;
        let Some(post) = find(conn, id)? else {
            return Ok(ApproveOutcome::NotFound);
        };
        if post.status != PostStatus::Submitted {
            return Ok(ApproveOutcome::NotSubmitted);
        }
        if let Some(message) = approval::refusal(by, post.created_by, post.edited_by) {
            return Ok(ApproveOutcome::OwnPost(message));
        }
        if revision.is_some_and(|r| r != post.revision) {
            return Ok(ApproveOutcome::Changed);
        }
        let detail = format!("{} (revision {})", post.title, post.revision);
        let change = StatusChange {
            from: &[PostStatus::Submitted],
            columns: StatusColumns {
                approved_by: Some(Some(by)),
                approved_at: Some(Some(now)),
                ..StatusColumns::new(PostStatus::Approved, now)
            },
            actor: Actor::Person(by),
            action: "post.approved",
            detail: &detail,
        };
        Ok(if change.apply(conn, id, now)? {
            ApproveOutcome::Approved
        } else {
            ApproveOutcome::NotSubmitted
        })
    })
}

/// Posts waiting for approval, oldest first.
pub fn submitted(conn: &mut DbConnection) -> StoreResult<Vec<Post>> {
    let rows = posts::table
        .filter(posts::status.eq(PostStatus::Submitted.as_str()))
        .order(posts::updated_at.asc())
        .select(post_columns!())
        .load::<PostRow>(conn)?;
    assemble(conn, rows)
}

/// Whether the organisation asks a second person to approve each post
/// (one column read, in the caller's transaction).
fn posts_need_approval(conn: &mut DbConnection) -> StoreResult<bool> {
    Ok(org_settings::table
        .find(1_i64)
        .select(org_settings::posts_need_approval)
        .first(conn)?)
}

/// Publish times already taken on a platform in [from, to): scheduled,
/// published and expired posts, and withdrawn ones that had been published.
pub fn taken_times(
    conn: &mut DbConnection,
    platform: Platform,
    from: NaiveDateTime,
    to: NaiveDateTime,
    except_post: i64,
) -> StoreResult<Vec<NaiveDateTime>> {
    let with_platform = post_captions::table
        .filter(post_captions::platform.eq(platform.slug()))
        .select(post_captions::post_id);
    let counted = posts::status
        .eq_any([
            PostStatus::Scheduled.as_str(),
            PostStatus::Published.as_str(),
            PostStatus::Expired.as_str(),
        ])
        .or(posts::status
            .eq(PostStatus::Withdrawn.as_str())
            .and(posts::published_at.is_not_null()));
    let times: Vec<Option<NaiveDateTime>> = posts::table
        .filter(posts::id.eq_any(with_platform))
        .filter(posts::id.ne(except_post))
        .filter(counted)
        .filter(posts::publish_at.ge(from).and(posts::publish_at.lt(to)))
        .select(posts::publish_at)
        .distinct()
        .load(conn)?;
    Ok(times.into_iter().flatten().collect())
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScheduleOutcome {
    Scheduled,
    /// The time had come: published at once.
    Published,
    /// A cap would be exceeded on this platform; the earliest time that fits
    /// every platform of the post, if any.
    CapReached {
        platform: Platform,
        next_slot: Option<NaiveDateTime>,
    },
    NotFound,
    NotEditable,
    NoPlatforms,
    /// The organisation asks for approval and the post has none.
    NeedsApproval,
}

/// Every scheduling and publishing decision takes this lock first: a no-op
/// UPDATE of the one settings row (row lock on PostgreSQL, write lock on
/// SQLite), so two comms users on two processes cannot both take the last slot.
fn lock_hub(conn: &mut DbConnection) -> StoreResult<()> {
    diesel::update(org_settings::table.find(1_i64))
        .set(org_settings::updated_at.eq(org_settings::updated_at))
        .execute(conn)?;
    Ok(())
}

/// Schedules a post for `at` (UTC), or publishes it now if `at` has come,
/// unless that would exceed a hub cap.
pub fn schedule(
    conn: &mut DbConnection,
    id: i64,
    at: NaiveDateTime,
    tz: Tz,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<ScheduleOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_hub(conn)?;
        let Some(post) = find(conn, id)? else {
            return Ok(ScheduleOutcome::NotFound);
        };
        if !post.status.is_editable() {
            return Ok(ScheduleOutcome::NotEditable);
        }
        let needs_approval = posts_need_approval(conn)?;
        if !approval::may_schedule(post.status, post.approved_at.is_some(), needs_approval) {
            return Ok(ScheduleOutcome::NeedsApproval);
        }
        let platforms = post.platforms();
        if platforms.is_empty() {
            return Ok(ScheduleOutcome::NoPlatforms);
        }
        let at = at.max(now);
        let caps = super::hub_caps::caps(conn)?;
        let (from, _) = schedule::week_bounds_utc(schedule::local_day(at, tz), tz);
        let to = at + chrono::Duration::days(400);
        let mut taken = Vec::new();
        for platform in &platforms {
            taken.push((
                *platform,
                taken_times(conn, *platform, from, to, id)?,
                caps[platform],
            ));
        }
        if let Some((platform, _, _)) = taken
            .iter()
            .find(|(_, times, cap)| !schedule::fits(times, at, tz, *cap))
        {
            let per_platform: Vec<(&[NaiveDateTime], Caps)> = taken
                .iter()
                .map(|(_, times, cap)| (times.as_slice(), *cap))
                .collect();
            return Ok(ScheduleOutcome::CapReached {
                platform: *platform,
                next_slot: schedule::next_free_slot_all(&per_platform, at, tz),
            });
        }
        let publish_now = at <= now;
        let (status, action) = if publish_now {
            (PostStatus::Published, "post.published")
        } else {
            (PostStatus::Scheduled, "post.scheduled")
        };
        let detail = format!("{} at {} UTC", post.title, at.format("%Y-%m-%d %H:%M"));
        let change = StatusChange {
            from: &[post.status],
            columns: StatusColumns {
                publish_at: Some(Some(at)),
                published_at: Some(publish_now.then_some(now)),
                ..StatusColumns::new(status, now)
            },
            actor: Actor::Person(by),
            action,
            detail: &detail,
        };
        if !change.apply(conn, id, now)? {
            return Ok(ScheduleOutcome::NotEditable);
        }
        Ok(if publish_now {
            ScheduleOutcome::Published
        } else {
            ScheduleOutcome::Scheduled
        })
    })
}

/// Takes a scheduled post back: to approved if it was approved (its
/// approval still holds, nothing changed), else to draft.
pub fn unschedule(
    conn: &mut DbConnection,
    id: i64,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<EditOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let approved = find(conn, id)?.is_some_and(|p| p.approved_at.is_some());
        let to = if approved {
            PostStatus::Approved
        } else {
            PostStatus::Draft
        };
        let change = StatusChange {
            from: &[PostStatus::Scheduled],
            columns: StatusColumns::new(to, now),
            actor: Actor::Person(by),
            action: "post.unscheduled",
            detail: "",
        };
        change.apply_or_say_why(conn, id, now)
    })
}

/// Withdraws a scheduled or published post: it leaves every queue at once.
pub fn withdraw(
    conn: &mut DbConnection,
    id: i64,
    reason: &str,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<EditOutcome> {
    let change = StatusChange {
        from: &[PostStatus::Scheduled, PostStatus::Published],
        columns: StatusColumns {
            withdrawn_at: Some(Some(now)),
            withdrawal_reason: Some(Some(reason)),
            ..StatusColumns::new(PostStatus::Withdrawn, now)
        },
        actor: Actor::Person(by),
        action: "post.withdrawn",
        detail: reason,
    };
    crate::db::write_transaction(conn, |conn| change.apply_or_say_why(conn, id, now))
}

/// The columns a status change sets; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = posts)]
struct StatusColumns<'a> {
    status: &'static str,
    updated_at: NaiveDateTime,
    publish_at: Option<Option<NaiveDateTime>>,
    published_at: Option<Option<NaiveDateTime>>,
    withdrawn_at: Option<Option<NaiveDateTime>>,
    withdrawal_reason: Option<Option<&'a str>>,
    approved_by: Option<Option<i64>>,
    approved_at: Option<Option<NaiveDateTime>>,
}

impl StatusColumns<'_> {
    fn new(to: PostStatus, now: NaiveDateTime) -> Self {
        StatusColumns {
            status: to.as_str(),
            updated_at: now,
            publish_at: None,
            published_at: None,
            withdrawn_at: None,
            withdrawal_reason: None,
            approved_by: None,
            approved_at: None,
        }
    }
}

/// One post's move between statuses with its audit entry: the one path
/// every status change takes (comms' and the background job's).
struct StatusChange<'a> {
    /// The statuses the post may be in; in any other it does not move.
    from: &'a [PostStatus],
    columns: StatusColumns<'a>,
    actor: Actor,
    action: &'a str,
    detail: &'a str,
}

impl StatusChange<'_> {
    /// Moves the post if it is in one of `from` (a conditional update, so
    /// of two processes only one moves it) and audits the move; false when
    /// it did not move. Run inside the caller's transaction.
    fn apply(&self, conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> StoreResult<bool> {
        let from: Vec<&str> = self.from.iter().map(|s| s.as_str()).collect();
        let updated = diesel::update(posts::table.find(id).filter(posts::status.eq_any(from)))
            .set(&self.columns)
            .execute(conn)?;
        if updated == 1 {
            let subject = format!("post:{id}");
            audit::record(conn, self.actor, self.action, &subject, self.detail, now)?;
            // Chat channels hear of it in the same transaction: published
            // with its announcements queued, or neither.
            if self.columns.status == PostStatus::Published.as_str() {
                super::chat_channels::announce_published(conn, id, now)?;
            }
        }
        Ok(updated == 1)
    }

    /// [`apply`](Self::apply), and when the post did not move, whether it
    /// is missing or in another status.
    fn apply_or_say_why(
        &self,
        conn: &mut DbConnection,
        id: i64,
        now: NaiveDateTime,
    ) -> StoreResult<EditOutcome> {
        if self.apply(conn, id, now)? {
            return Ok(EditOutcome::Done);
        }
        Ok(match find(conn, id)? {
            None => EditOutcome::NotFound,
            Some(_) => EditOutcome::NotEditable,
        })
    }
}

/// Moves each due post from one status to the next, each in its own
/// transaction with a conditional update, so that with several processes
/// running the job a post moves (and is audited) exactly once, and a crash
/// leaves each post either wholly moved or not at all.
fn advance_due(
    conn: &mut DbConnection,
    due: Vec<i64>,
    from: PostStatus,
    to: PostStatus,
    action: &str,
    detail: &str,
    now: NaiveDateTime,
) -> StoreResult<Vec<i64>> {
    let published_at = (to == PostStatus::Published).then_some(Some(now));
    let change = StatusChange {
        from: &[from],
        columns: StatusColumns {
            published_at,
            ..StatusColumns::new(to, now)
        },
        actor: Actor::System,
        action,
        detail,
    };
    let mut moved = Vec::new();
    for id in due {
        if crate::db::write_transaction(conn, |conn| change.apply(conn, id, now))? {
            moved.push(id);
        }
    }
    Ok(moved)
}

/// Publishes every scheduled post whose time has come, each exactly once.
/// While posts need approval, a post scheduled before approval was turned
/// on (so never approved) is held: it waits, scheduled, until comms submit
/// it and someone approves it.
pub fn publish_due(conn: &mut DbConnection, now: NaiveDateTime) -> StoreResult<Vec<i64>> {
    let mut due = posts::table
        .filter(posts::status.eq(PostStatus::Scheduled.as_str()))
        .filter(posts::publish_at.le(now))
        .into_boxed();
    if super::org::settings(conn)?.posts_need_approval {
        due = due.filter(posts::approved_at.is_not_null());
    }
    let due: Vec<i64> = due
        .order(posts::publish_at.asc())
        .select(posts::id)
        .load(conn)?;
    advance_due(
        conn,
        due,
        PostStatus::Scheduled,
        PostStatus::Published,
        "post.published",
        "scheduled time reached",
        now,
    )
}

/// Expires published posts past their expiry, each exactly once.
pub fn expire_due(conn: &mut DbConnection, now: NaiveDateTime) -> StoreResult<Vec<i64>> {
    let due: Vec<i64> = posts::table
        .filter(posts::status.eq(PostStatus::Published.as_str()))
        .filter(posts::expires_at.le(now))
        .select(posts::id)
        .load(conn)?;
    advance_due(
        conn,
        due,
        PostStatus::Published,
        PostStatus::Expired,
        "post.expired",
        "",
        now,
    )
}

/// Withdraws a post and, in the same transaction, queues a notice to each
/// active person who shared it, so they can decide to delete their post.
pub fn withdraw_and_notify(
    conn: &mut DbConnection,
    id: i64,
    reason: &str,
    by: i64,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<EditOutcome> {
    use crate::db::schema::{shares, users};
    crate::db::write_transaction(conn, |conn| {
        let outcome = withdraw(conn, id, reason, by, now)?;
        if outcome != EditOutcome::Done {
            return Ok(outcome);
        }
        let sharers: Vec<(i64, String)> = shares::table
            .inner_join(users::table.on(users::id.eq(shares::user_id)))
            .filter(shares::post_id.eq(id))
            .filter(users::active.eq(true))
            .select((users::id, users::email))
            .distinct()
            .load(conn)?;
        for (user_id, email) in sharers {
            super::outbox::enqueue(
                conn,
                &super::outbox::NewMessage {
                    kind: super::outbox::Kind::WithdrawalNotice,
                    user_id: Some(user_id),
                    recipient: email,
                    dedupe_key: format!("withdrawal_notice:{id}:{user_id}"),
                    payload: serde_json::json!({ "post": id }).to_string(),
                    send_before: None,
                    message_id: format!("{}@{mail_domain}", uuid::Uuid::new_v4()),
                },
                now,
            )?;
        }
        Ok(EditOutcome::Done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(captions: &Captions) -> Vec<(Platform, Vec<String>)> {
        captions
            .by_platform()
            .map(|(p, v)| (p, v.into_iter().map(String::from).collect()))
            .collect()
    }

    #[test]
    fn packed_captions_give_back_each_platforms_variants_in_catalogue_order() {
        let given = vec![
            (
                Platform::LinkedIn,
                vec!["Read it".to_string(), "".to_string()],
            ),
            (Platform::X, vec!["Ünïcode ✓".to_string()]),
            (
                Platform::Facebook,
                vec!["One".to_string(), "Two".to_string(), "Three".to_string()],
            ),
        ];
        let captions: Captions = given.clone().into_iter().collect();
        let mut sorted = given;
        sorted.sort_by_key(|(p, _)| *p);
        assert_eq!(lists(&captions), sorted);
        assert_eq!(
            captions.platforms().collect::<Vec<_>>(),
            sorted.iter().map(|(p, _)| *p).collect::<Vec<_>>()
        );
        assert_eq!(captions.count(Platform::Facebook), 3);
        assert_eq!(captions.variants(Platform::Facebook).nth(1), Some("Two"));
        assert_eq!(captions.variants(Platform::LinkedIn).nth(1), Some(""));
        assert!(captions.has(Platform::X) && !captions.is_empty());
    }

    #[test]
    fn a_post_without_captions_has_no_platforms_and_no_variants() {
        let captions: Captions = Vec::new().into_iter().collect();
        assert!(captions.is_empty());
        assert_eq!(captions.platforms().count(), 0);
        assert_eq!(captions.count(Platform::X), 0);
        assert_eq!(captions.variants(Platform::X).next(), None);
        assert_eq!(captions, Captions::default());
    }
}
