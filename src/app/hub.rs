//! The hub: composing, editing, scheduling and withdrawing posts, and
//! turning employees' suggestions into drafts. The hub pages and the
//! JSON API both call these, so a post is checked and scheduled one way.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::{App, Error, Result};
use crate::domain::ids::{PostId, SuggestionId, UserId};
use crate::domain::platforms::Platform;
use crate::domain::post::{self, ParsedDraft, PostDraft, PostInput, PostStatus};
use crate::domain::schedule;
use crate::store::posts::{ApproveOutcome, EditOutcome, Post, ScheduleOutcome};
use crate::store::suggestions::DecideOutcome;
use crate::store::{self, StoreError, departments::Department, org::OrgSettings};

/// Posts listed at most (newest publish time first).
pub const LIST_LIMIT: i64 = 200;

/// What the hub needs from the organisation to check and show a post.
pub struct HubContext {
    pub settings: OrgSettings,
    pub departments: Vec<Department>,
}

impl HubContext {
    /// The draft checked against these departments and this disclosure.
    pub fn parse(&self, draft: &PostDraft) -> ParsedDraft {
        let departments: Vec<i64> = self.departments.iter().map(|d| d.id).collect();
        draft.parse(
            &departments,
            self.settings.disclosure().as_deref(),
            &self.settings.link_tags(),
        )
    }
}

pub async fn context(app: &App) -> Result<HubContext> {
    Ok(app
        .db
        .run(|conn| {
            Ok::<_, StoreError>(HubContext {
                settings: store::org::settings(conn)?,
                departments: store::departments::list(conn)?,
            })
        })
        .await?)
}

/// The newest posts, of one status or all, with the settings to show them.
pub async fn list(app: &App, status: Option<PostStatus>) -> Result<(Vec<Post>, OrgSettings)> {
    Ok(app
        .db
        .run(move |conn| {
            Ok::<_, StoreError>((
                store::posts::list(conn, status, LIST_LIMIT)?,
                store::org::settings(conn)?,
            ))
        })
        .await?)
}

pub async fn post(app: &App, id: PostId) -> Result<Post> {
    app.db
        .run(move |conn| store::posts::find(conn, id.get()))
        .await?
        .ok_or(Error::NotFound)
}

/// Saves a new post as a draft.
pub async fn create(app: &App, input: PostInput, by: UserId) -> Result<PostId> {
    let now = app.clock.now_naive();
    let id = app
        .db
        .run(move |conn| store::posts::create_draft(conn, &input, by.get(), now))
        .await?;
    Ok(PostId::new(id))
}

/// Whether a status change happened, or the post's status did not allow it.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Done,
    WrongStatus,
}

fn change(outcome: EditOutcome) -> Result<Change> {
    match outcome {
        EditOutcome::Done => Ok(Change::Done),
        EditOutcome::NotFound => Err(Error::NotFound),
        EditOutcome::NotEditable => Ok(Change::WrongStatus),
    }
}

/// Replaces a post not yet published. A scheduled one goes back to draft;
/// while posts need approval, an approved or scheduled one goes back to
/// submitted and its approvers are asked again.
pub async fn update(app: &App, id: PostId, input: PostInput, by: UserId) -> Result<Change> {
    let now = app.clock.now_naive();
    let domain = app.mail_domain.clone();
    change(
        app.db
            .run(move |conn| store::posts::update(conn, id.get(), &input, by.get(), now, &domain))
            .await?,
    )
}

/// Submits a draft for approval; every comms person and admin who did not
/// write it gets an email, and sees it under Approvals.
pub async fn submit(app: &App, id: PostId, by: UserId) -> Result<Change> {
    let now = app.clock.now_naive();
    let domain = app.mail_domain.clone();
    change(
        app.db
            .run(move |conn| store::posts::submit(conn, id.get(), by.get(), now, &domain))
            .await?,
    )
}

/// What came of an approval.
#[derive(Debug, PartialEq, Eq)]
pub enum Approval {
    Approved,
    /// The approver wrote or edited the post; the message says so.
    OwnPost(String),
    /// Edited since the approver saw it.
    Changed,
    /// Not waiting for approval (someone else approved it meanwhile).
    NotSubmitted,
}

/// Approves a submitted post as seen at `revision` (any, when `None`).
pub async fn approve(app: &App, id: PostId, by: UserId, revision: Option<i32>) -> Result<Approval> {
    let now = app.clock.now_naive();
    let outcome = app
        .db
        .run(move |conn| store::posts::approve(conn, id.get(), by.get(), revision, now))
        .await?;
    Ok(match outcome {
        ApproveOutcome::Approved => Approval::Approved,
        ApproveOutcome::NotFound => return Err(Error::NotFound),
        ApproveOutcome::OwnPost(message) => Approval::OwnPost(message.to_string()),
        ApproveOutcome::Changed => Approval::Changed,
        ApproveOutcome::NotSubmitted => Approval::NotSubmitted,
    })
}

/// The posts waiting for approval that `user` may approve (not their own),
/// oldest first, and whether posts need approval at all.
pub async fn awaiting_approval(app: &App, user: UserId) -> Result<(Vec<Post>, bool)> {
    let (posts, needed) = app
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                store::posts::submitted(conn)?,
                store::org::settings(conn)?.posts_need_approval,
            ))
        })
        .await?;
    let mine = |p: &Post| post::approval::refusal(user.get(), p.created_by, p.edited_by).is_some();
    Ok((posts.into_iter().filter(|p| !mine(p)).collect(), needed))
}

/// Why a post that needs approval is not scheduled.
pub const NEEDS_APPROVAL: &str = "This post needs approval before it is scheduled or published: \
    submit it, and another comms person or an admin approves it.";

/// What came of scheduling a post.
#[derive(Debug, PartialEq, Eq)]
pub enum Scheduled {
    Scheduled,
    /// The time had come: published at once.
    Published,
    /// The time is past or after the expiry; the message says which.
    TimeRefused(String),
    /// A hub cap would be exceeded; the next slot that fits every platform.
    CapReached {
        platform: Platform,
        next_slot: Option<NaiveDateTime>,
    },
    NoPlatforms,
    /// Posts need approval and this one has none yet.
    NeedsApproval,
    WrongStatus,
}

/// Schedules a post for `at` (UTC; `None` for now) within the hub caps.
pub async fn schedule(
    app: &App,
    post: &Post,
    at: Option<NaiveDateTime>,
    by: UserId,
) -> Result<Scheduled> {
    let now = app.clock.now_naive();
    let at = at.unwrap_or(now);
    if let Err(refusal) = post::check_publish_time(post.expires_at, at, now) {
        return Ok(Scheduled::TimeRefused(refusal.0));
    }
    let id = post.id;
    let outcome = app
        .db
        .run(move |conn| {
            let tz = store::org::settings(conn)?.timezone();
            store::posts::schedule(conn, id, at, tz, by.get(), now)
        })
        .await?;
    Ok(match outcome {
        ScheduleOutcome::Scheduled => Scheduled::Scheduled,
        ScheduleOutcome::Published => Scheduled::Published,
        ScheduleOutcome::CapReached {
            platform,
            next_slot,
        } => Scheduled::CapReached {
            platform,
            next_slot,
        },
        ScheduleOutcome::NoPlatforms => Scheduled::NoPlatforms,
        ScheduleOutcome::NeedsApproval => Scheduled::NeedsApproval,
        ScheduleOutcome::NotEditable => Scheduled::WrongStatus,
        ScheduleOutcome::NotFound => return Err(Error::NotFound),
    })
}

/// Why a schedule was refused by the hub cap, naming the next free slot.
pub fn cap_message(platform: Platform, next_slot: Option<NaiveDateTime>, tz: Tz) -> String {
    match next_slot {
        Some(slot) => format!(
            "The hub cap for {} is reached for that day or week. The next free slot for every platform of this post is {} ({}).",
            platform.name(),
            schedule::utc_to_local(slot, tz).format("%a %d %b %Y, %H:%M"),
            tz.name()
        ),
        None => format!(
            "The hub cap for {} is 0: nothing can be published there. Change the caps under Settings.",
            platform.name()
        ),
    }
}

/// Takes a scheduled post back to draft.
pub async fn unschedule(app: &App, id: PostId, by: UserId) -> Result<Change> {
    let now = app.clock.now_naive();
    change(
        app.db
            .run(move |conn| store::posts::unschedule(conn, id.get(), by.get(), now))
            .await?,
    )
}

/// Withdraws a scheduled or published post from every queue; those who
/// shared it are sent the reason (parsed by `post::parse_withdrawal_reason`).
pub async fn withdraw(app: &App, id: PostId, reason: String, by: UserId) -> Result<Change> {
    let now = app.clock.now_naive();
    let domain = app.mail_domain.clone();
    change(
        app.db
            .run(move |conn| {
                store::posts::withdraw_and_notify(conn, id.get(), &reason, by.get(), now, &domain)
            })
            .await?,
    )
}

fn already_decided() -> Error {
    Error::Invalid("This suggestion has already been decided.".into())
}

/// Turns a suggestion into a draft post offered to everyone on every
/// platform, its note as the text.
pub async fn accept_suggestion(app: &App, id: SuggestionId, by: UserId) -> Result<PostId> {
    let now = app.clock.now_naive();
    let outcome = app
        .db
        .run(move |conn| {
            let Some(suggestion) = store::suggestions::find(conn, id.get())? else {
                return Ok(DecideOutcome::NotFound);
            };
            let settings = store::org::settings(conn)?;
            let first_line: String = suggestion
                .note
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            let draft = PostInput {
                title: format!("Suggested: {first_line}"),
                link: suggestion.link.clone(),
                base_text: suggestion.note.clone(),
                captions: settings
                    .enabled_platforms()
                    .into_iter()
                    .map(|p| (p, vec![suggestion.note.clone()]))
                    .collect(),
                target_all: true,
                department_ids: Vec::new(),
                expires_at: None,
            };
            store::suggestions::accept(conn, id.get(), &draft, by.get(), now)
        })
        .await?;
    match outcome {
        DecideOutcome::Accepted(post_id) => Ok(PostId::new(post_id)),
        DecideOutcome::NotFound => Err(Error::NotFound),
        _ => Err(already_decided()),
    }
}

/// Declines a suggestion with a note its author sees.
pub async fn decline_suggestion(
    app: &App,
    id: SuggestionId,
    note: String,
    by: UserId,
) -> Result<()> {
    let now = app.clock.now_naive();
    match app
        .db
        .run(move |conn| store::suggestions::decline(conn, id.get(), &note, by.get(), now))
        .await?
    {
        DecideOutcome::Declined => Ok(()),
        DecideOutcome::NotFound => Err(Error::NotFound),
        _ => Err(already_decided()),
    }
}
