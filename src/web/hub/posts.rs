//! The hub's posts: the list, the composer, editing, scheduling and withdrawing.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::app::hub::{self as hub, Change, HubContext, Scheduled};
use crate::domain::ids::{PostId, UserId};
use crate::domain::platforms::Platform;
use crate::domain::post::{
    CaptionCheck, MAX_VARIANTS, ParsedDraft, PostDraft, PostErrors, PostInput, PostStatus,
    format_local, link_host, parse_local, parse_withdrawal_reason,
};
use crate::domain::schedule;
use crate::store::{departments::Department, posts::Post};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{FirstValue, PageContext, first_value, ok, refused, see_other};

use super::preview_form::{self, LinkPreviewForm};
use crate::app::{feeds, previews};
use crate::domain::link_preview::PreviewText;
use crate::store::previews::Preview;

/// The composer's fields as posted. Each platform's are named after it:
/// `use_{slug}` and `caption_{slug}_{n}`, so they are gathered by name.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PostFields {
    #[serde(deserialize_with = "first_value")]
    title: String,
    #[serde(deserialize_with = "first_value")]
    link: String,
    #[serde(deserialize_with = "first_value")]
    base_text: String,
    #[serde(deserialize_with = "first_value")]
    target: String,
    department: Vec<String>,
    #[serde(deserialize_with = "first_value")]
    expires_at: String,
    #[serde(deserialize_with = "first_value")]
    timezone: String,
    #[serde(deserialize_with = "first_value")]
    action: String,
    #[serde(deserialize_with = "first_value")]
    preview_title: String,
    #[serde(deserialize_with = "first_value")]
    preview_description: String,
    /// A new post started from a day of the calendar: that day, 09:00.
    #[serde(deserialize_with = "first_value")]
    planned_at: String,
    #[serde(flatten)]
    per_platform: HashMap<String, FirstValue>,
}

impl PostFields {
    pub(super) fn parse(body: &[u8]) -> WebResult<PostFields> {
        serde_html_form::from_bytes(body)
            .map_err(|_| AppError::bad_request("The form could not be read. Please try again."))
    }

    pub(super) fn draft(&self, enabled: &[Platform]) -> PostDraft {
        let field = |name: String| self.per_platform.get(&name).cloned().unwrap_or_default().0;
        PostDraft {
            title: self.title.clone(),
            link: self.link.clone(),
            base_text: self.base_text.clone(),
            target_all: self.target != "departments",
            department_ids: self
                .department
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect(),
            expires_at: self.expires_at.clone(),
            timezone: self.timezone.clone(),
            platforms: enabled
                .iter()
                .map(|p| {
                    let used = !field(format!("use_{}", p.slug())).is_empty();
                    let variants = (1..=MAX_VARIANTS)
                        .map(|n| field(format!("caption_{}_{n}", p.slug())))
                        .collect();
                    (*p, used, variants)
                })
                .collect(),
        }
    }

    fn preview(&self) -> bool {
        self.action == "preview"
    }

    /// The link preview's fields as typed, refused or not.
    fn link_preview(&self, kept: Option<&Preview>) -> (LinkPreviewForm, Option<PreviewText>) {
        LinkPreviewForm::typed(&self.preview_title, &self.preview_description, kept)
    }
}

/// A saved post as the composer shows it.
fn draft_of(post: &Post, enabled: &[Platform], tz: Tz, tz_name: &str) -> PostDraft {
    let mut platforms: Vec<Platform> = enabled.to_vec();
    for p in post.platforms() {
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    platforms.sort();
    PostDraft {
        title: post.title.clone(),
        link: post.link.clone(),
        base_text: post.base_text.clone(),
        target_all: post.target_all,
        department_ids: post.department_ids.clone(),
        expires_at: post
            .expires_at
            .map(|t| format_local(t, tz))
            .unwrap_or_default(),
        timezone: tz_name.to_string(),
        platforms: platforms
            .into_iter()
            .map(|p| {
                let written = post.captions.has(p).then(|| {
                    post.captions
                        .variants(p)
                        .map(String::from)
                        .collect::<Vec<_>>()
                });
                let used = written.is_some();
                let mut variants = written.unwrap_or_default();
                // The base text shows as "use the base text" (an empty first variant).
                if variants.first().is_some_and(|v| *v == post.base_text) {
                    variants[0].clear();
                }
                variants.resize(MAX_VARIANTS, String::new());
                (p, used, variants)
            })
            .collect(),
    }
}

fn display_local(at_utc: NaiveDateTime, tz: Tz) -> String {
    schedule::utc_to_local(at_utc, tz)
        .format("%a %d %b %Y, %H:%M")
        .to_string()
}

/// One platform's section of the form, with each variant's check.
pub struct PlatformSection {
    pub platform: Platform,
    pub used: bool,
    pub variants: Vec<String>,
    pub checks: Vec<CheckView>,
    /// Each field's refusal (1-based fields, `errors[0]` for the first).
    pub errors: Vec<Option<String>>,
}

impl PlatformSection {
    /// Whether variants 2 and 3 start open: something is typed in them or
    /// one of them was refused.
    pub fn more_open(&self) -> bool {
        self.variants.iter().skip(1).any(|v| !v.trim().is_empty())
            || self.errors.iter().skip(1).any(Option::is_some)
    }

    /// The caption fields, each with its label, refusal and count.
    pub fn fields(&self) -> Vec<CaptionField> {
        let (slug, name) = (self.platform.slug(), self.platform.name());
        self.variants
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let n = i + 1;
                let check = self.checks.iter().find(|c| c.field == n);
                CaptionField {
                    n,
                    id: format!("caption_{slug}_{n}"),
                    label: match (self.platform.accepts_prefilled_text(), n) {
                        (true, n) => format!("{name} variant {n}"),
                        (false, 1) => format!("Text people paste into {name}"),
                        (false, n) => format!("Text people paste into {name}, variant {n}"),
                    },
                    value: value.clone(),
                    error: self.errors.get(i).cloned().flatten(),
                    count: check.map(|c| c.sentence.clone()).unwrap_or_default(),
                    over: check.is_some_and(|c| !c.fits),
                }
            })
            .collect()
    }
}

/// One caption field of a platform's section.
pub struct CaptionField {
    /// 1-based.
    pub n: usize,
    pub id: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
    /// The count as said beside the field ("" before it was counted).
    pub count: String,
    pub over: bool,
}

pub struct CheckView {
    pub variant: usize,
    /// The composer's field it was typed in (1-based).
    pub field: usize,
    pub offered: String,
    /// The link as this platform carries it, tags included.
    pub link: String,
    pub count: usize,
    pub limit: usize,
    pub fits: bool,
    /// The count as said beside the field.
    pub sentence: String,
    /// The link as the platforms display it in a post: without its
    /// scheme, cut after 30 characters (the full link is still shared).
    pub link_shown: String,
}

fn link_shown(link: &str) -> String {
    let bare = link
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.");
    match bare.char_indices().nth(30) {
        Some((cut, _)) => format!("{}…", &bare[..cut]),
        None => bare.to_string(),
    }
}

/// The count beside a caption, in the server's own words (the live
/// counts of the composer's script show the same sentence).
fn count_sentence(check: &CaptionCheck, disclosure: bool) -> String {
    let with = match (check.platform.link_in_text(), disclosure) {
        (true, true) => ", with the link and the disclosure",
        (true, false) => ", with the link",
        (false, true) => ", with the disclosure",
        (false, false) => "",
    };
    format!(
        "Variant {}: {} of {} characters as {} counts them{with}.",
        check.variant,
        check.count,
        check.limit,
        check.platform.name(),
    )
}

pub(super) fn check_view(check: &CaptionCheck, disclosure: bool) -> CheckView {
    CheckView {
        variant: check.variant,
        field: check.field,
        offered: check.offered.clone(),
        link: check.link.clone(),
        count: check.count,
        limit: check.limit,
        fits: check.fits(),
        sentence: count_sentence(check, disclosure),
        link_shown: link_shown(&check.link),
    }
}

/// The form's platform sections, each with its checks (none before a parse).
fn sections(
    form: &PostDraft,
    checks: &[Vec<CaptionCheck>],
    errors: &PostErrors,
    disclosure: bool,
) -> Vec<PlatformSection> {
    form.platforms
        .iter()
        .enumerate()
        .map(|(index, (platform, used, variants))| PlatformSection {
            platform: *platform,
            used: *used,
            variants: variants.clone(),
            checks: checks
                .get(index)
                .into_iter()
                .flatten()
                .map(|c| check_view(c, disclosure))
                .collect(),
            errors: (1..=MAX_VARIANTS)
                .map(|field| {
                    let mine = errors
                        .captions
                        .iter()
                        .filter(|c| c.platform == *platform && c.field == field)
                        .map(|c| c.message.as_str())
                        .collect::<Vec<_>>();
                    (!mine.is_empty()).then(|| mine.join(" "))
                })
                .collect(),
        })
        .collect()
}

/// One line of the error summary: the field's id and what is wrong.
pub struct SummaryItem {
    pub field: String,
    pub message: String,
}

/// The error summary at the top of the composer (the GOV.UK Design
/// System's pattern): every refusal, each a link to its field.
fn summary(
    errors: &PostErrors,
    form: &PostDraft,
    link_preview: &LinkPreviewForm,
    schedule_error: Option<&str>,
    withdraw_error: Option<&str>,
) -> Vec<SummaryItem> {
    let first_platform = form
        .platforms
        .first()
        .map(|(p, _, _)| format!("use_{}", p.slug()))
        .unwrap_or_default();
    let mut said: Vec<(String, Option<&str>)> = vec![
        ("title".into(), errors.title.as_deref()),
        ("link".into(), errors.link.as_deref()),
        ("preview_title".into(), link_preview.error.as_deref()),
        ("base_text".into(), errors.base_text.as_deref()),
        (first_platform, errors.platforms.as_deref()),
    ];
    said.extend(errors.captions.iter().map(|c| {
        let field = format!("caption_{}_{}", c.platform.slug(), c.field);
        (field, Some(c.message.as_str()))
    }));
    said.extend([
        ("target_all".into(), errors.target.as_deref()),
        ("expires_at".into(), errors.expires_at.as_deref()),
        ("timezone".into(), errors.timezone.as_deref()),
        ("publish_at".into(), schedule_error),
        ("reason".into(), withdraw_error),
    ]);
    said.into_iter()
        .filter_map(|(field, message)| {
            message.map(|m| SummaryItem {
                field,
                message: m.to_string(),
            })
        })
        .collect()
}

// ---- pages -------------------------------------------------------------------------

pub struct PostRowView {
    pub id: i64,
    pub title: String,
    pub status: &'static str,
    pub when: String,
    pub platforms: String,
    /// The feed whose item made this draft.
    pub feed: Option<String>,
}

#[derive(Template)]
#[template(path = "hub/posts.html")]
struct PostsPage {
    page: PageContext,
    rows: Vec<PostRowView>,
    filter: String,
    /// Each status filter and whether it is the current one.
    tabs: Vec<(&'static str, bool)>,
    /// Posts waiting for this person's approval.
    awaiting_approval: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    status: String,
}

pub async fn list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ListQuery>,
) -> WebResult<HttpResponse> {
    let status = PostStatus::parse(&query.status);
    let (posts, settings) = hub::list(&state, status).await?;
    let me = UserId::new(signed_in.user.id);
    let awaiting_approval = hub::awaiting_approval(&state, me).await?.0.len();
    let tz = settings.timezone();
    let sources = feeds::sources(&state, posts.iter().map(|p| p.id).collect()).await?;
    ok(&PostsPage {
        page: PageContext::from(&signed_in),
        rows: posts
            .iter()
            .map(|p| PostRowView {
                id: p.id,
                title: p.title.clone(),
                status: p.status.as_str(),
                when: p
                    .publish_at
                    .map(|t| display_local(t, tz))
                    .unwrap_or_else(|| "—".into()),
                platforms: p
                    .platforms()
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                feed: sources.get(&p.id).map(|s| s.title.clone()),
            })
            .collect(),
        filter: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        tabs: PostStatus::ALL
            .into_iter()
            .map(|s| (s.as_str(), Some(s) == status))
            .collect(),
        awaiting_approval,
    })
}

#[derive(Template)]
#[template(path = "hub/post_form.html")]
pub(super) struct PostFormPage {
    page: PageContext,
    post_id: Option<i64>,
    status: &'static str,
    form: PostDraft,
    sections: Vec<PlatformSection>,
    errors: PostErrors,
    departments: Vec<Department>,
    disclosure: Option<String>,
    /// Whether shared links carry the title's slug in a tag.
    link_tags: bool,
    timezones: Vec<&'static str>,
    notice: Option<String>,
    schedule_at: String,
    schedule_error: Option<String>,
    withdrawal_reason: Option<String>,
    withdraw_error: Option<String>,
    editable: bool,
    can_withdraw: bool,
    /// Posts need approval, and where this one stands.
    needs_approval: bool,
    can_schedule: bool,
    /// Scheduled before approval was turned on, never approved: the
    /// publishing job holds it.
    held: bool,
    preview: bool,
    link_preview: LinkPreviewForm,
    /// The feed whose item made this draft.
    from_feed: Option<String>,
    /// The error summary's lines, each a link to its field.
    summary: Vec<SummaryItem>,
    /// The link's host, as a link card shows it.
    host: String,
}

struct FormPageParts {
    post_id: Option<i64>,
    status: PostStatus,
    withdrawal_reason: Option<String>,
    notice: Option<String>,
    schedule_at: String,
    schedule_error: Option<String>,
    withdraw_error: Option<String>,
    preview: bool,
    approved: bool,
    link_preview: LinkPreviewForm,
}

impl FormPageParts {
    fn new_post() -> FormPageParts {
        FormPageParts {
            post_id: None,
            status: PostStatus::Draft,
            withdrawal_reason: None,
            notice: None,
            schedule_at: String::new(),
            schedule_error: None,
            withdraw_error: None,
            preview: false,
            approved: false,
            link_preview: LinkPreviewForm::default(),
        }
    }

    /// A new post started from a day of the calendar: it will suggest
    /// that day, 09:00, once saved.
    fn planned_for(day: Option<NaiveDate>) -> FormPageParts {
        let Some(day) = day else {
            return FormPageParts::new_post();
        };
        FormPageParts {
            notice: Some(format!(
                "A post for {}: save the draft, and the schedule below suggests that day.",
                day.format("%A %-d %B %Y")
            )),
            schedule_at: format!("{day}T09:00"),
            ..FormPageParts::new_post()
        }
    }

    fn of(post: &Post) -> FormPageParts {
        FormPageParts {
            post_id: Some(post.id),
            status: post.status,
            withdrawal_reason: post.withdrawal_reason.clone(),
            approved: post.approved_at.is_some(),
            ..FormPageParts::new_post()
        }
    }
}

fn form_page(
    signed_in: &SignedIn,
    context: HubContext,
    form: PostDraft,
    parsed: ParsedDraft,
    parts: FormPageParts,
) -> PostFormPage {
    let disclosure = context.settings.disclosure();
    let summary = summary(
        &parsed.errors,
        &form,
        &parts.link_preview,
        parts.schedule_error.as_deref(),
        parts.withdraw_error.as_deref(),
    );
    PostFormPage {
        page: PageContext::from(signed_in),
        post_id: parts.post_id,
        status: parts.status.as_str(),
        editable: parts.status.is_editable(),
        can_withdraw: matches!(parts.status, PostStatus::Scheduled | PostStatus::Published),
        needs_approval: context.settings.posts_need_approval,
        can_schedule: crate::domain::post::approval::may_schedule(
            parts.status,
            parts.approved,
            context.settings.posts_need_approval,
        ),
        held: context.settings.posts_need_approval
            && parts.status == PostStatus::Scheduled
            && !parts.approved,
        sections: sections(&form, &parsed.checks, &parsed.errors, disclosure.is_some()),
        errors: parsed.errors,
        host: link_host(form.link.trim()),
        form,
        summary,
        departments: context.departments,
        disclosure,
        link_tags: context.settings.link_tags().uses_post_slug(),
        timezones: crate::web::page::timezone_names(),
        notice: parts.notice,
        schedule_at: parts.schedule_at,
        schedule_error: parts.schedule_error,
        withdrawal_reason: parts.withdrawal_reason,
        withdraw_error: parts.withdraw_error,
        preview: parts.preview,
        link_preview: parts.link_preview,
        from_feed: None,
    }
}

/// The post to save, or the composer to show again: for a preview, or
/// with the refusals (422).
fn input_or_page(
    signed_in: &SignedIn,
    context: HubContext,
    form: PostDraft,
    mut parsed: ParsedDraft,
    parts: FormPageParts,
) -> Result<PostInput, Box<WebResult<HttpResponse>>> {
    let preview_refused = parts.link_preview.error.is_some();
    match parsed.input.take() {
        Some(input) if !parts.preview && !preview_refused => Ok(input),
        _ => {
            let failed = parsed.errors.any() || preview_refused;
            let page = form_page(signed_in, context, form, parsed, parts);
            Err(Box::new(if failed { refused(&page) } else { ok(&page) }))
        }
    }
}

pub async fn new_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<NewPostQuery>,
) -> WebResult<HttpResponse> {
    let context = hub::context(&state).await?;
    let enabled = context.settings.enabled_platforms();
    let form = PostDraft {
        target_all: true,
        timezone: context.settings.timezone_name().to_string(),
        platforms: enabled
            .iter()
            .map(|p| (*p, true, vec![String::new(); MAX_VARIANTS]))
            .collect(),
        ..PostDraft::default()
    };
    let unchecked = ParsedDraft {
        input: None,
        errors: PostErrors::default(),
        checks: Vec::new(),
    };
    let page = form_page(
        &signed_in,
        context,
        form,
        unchecked,
        FormPageParts::planned_for(planned_day(&query.date)),
    );
    ok(&page)
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let fields = PostFields::parse(&body)?;
    let context = hub::context(&state).await?;
    let form = fields.draft(&context.settings.enabled_platforms());
    let parsed = context.parse(&form);
    let (link_preview, typed) = fields.link_preview(None);
    let parts = FormPageParts {
        preview: fields.preview(),
        link_preview,
        // A day picked on the calendar stays with the form.
        schedule_at: planned_time(&fields.planned_at).unwrap_or_default(),
        ..FormPageParts::new_post()
    };
    let input = match input_or_page(&signed_in, context, form, parsed, parts) {
        Ok(input) => input,
        Err(page) => return *page,
    };
    let link = input.link.clone();
    let id = hub::create(&state, input, UserId::new(signed_in.user.id)).await?;
    previews::after_save(&state, id, &link, typed, false).await?;
    let planned = planned_time(&fields.planned_at)
        .map(|at| format!("&at={at}"))
        .unwrap_or_default();
    Ok(see_other(&format!("/hub/posts/{id}?done=saved{planned}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
    /// The publish time a post started from the calendar was meant for.
    at: String,
}

/// `?date=2026-12-07`: the calendar day a new post is started for.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewPostQuery {
    date: String,
}

fn planned_day(typed: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(typed.trim(), "%Y-%m-%d").ok()
}

/// A publish time as the schedule field takes it, if `typed` is one.
fn planned_time(typed: &str) -> Option<String> {
    NaiveDateTime::parse_from_str(typed.trim(), "%Y-%m-%dT%H:%M")
        .ok()
        .map(|at| at.format("%Y-%m-%dT%H:%M").to_string())
}

fn notice_for(done: &str, post: &Post, tz: Tz) -> Option<String> {
    let when = post
        .publish_at
        .map(|t| display_local(t, tz))
        .unwrap_or_default();
    match done {
        "saved" => Some("Saved as a draft. Schedule it below when it is ready.".into()),
        "scheduled" => Some(format!("Scheduled for {when}.")),
        "published" => Some("Published: it is in the queues of the people it is for.".into()),
        "unscheduled" => {
            Some("Back to draft; it will not be published until you schedule it again.".into())
        }
        "withdrawn" => Some("Withdrawn: it has left every queue.".into()),
        "submitted" => {
            Some("Submitted: another comms person or an admin approves it; they were told.".into())
        }
        other => preview_form::notice_for(other),
    }
}

/// What the composer says about a saved post besides the post itself.
#[derive(Default)]
pub(super) struct Said {
    pub notice: Option<String>,
    pub schedule_error: Option<String>,
    pub withdraw_error: Option<String>,
    pub schedule_at: Option<String>,
    /// Why an uploaded preview image or a fetch was refused.
    pub preview_error: Option<String>,
}

pub(super) async fn show_post(
    state: &AppState,
    signed_in: &SignedIn,
    post: Post,
    said: Said,
) -> WebResult<PostFormPage> {
    let context = hub::context(state).await?;
    let tz = context.settings.timezone();
    let kept = previews::of_post(state, PostId::new(post.id)).await?;
    let mut link_preview = LinkPreviewForm::of(kept.as_ref(), &post.link, tz);
    link_preview.error = said.preview_error;
    let form = draft_of(
        &post,
        &context.settings.enabled_platforms(),
        tz,
        context.settings.timezone_name(),
    );
    let parsed = ParsedDraft {
        errors: PostErrors::default(),
        ..context.parse(&form)
    };
    let default_at = post
        .publish_at
        .map(|t| format_local(t, tz))
        .unwrap_or_else(|| format_local(state.clock.now_naive() + chrono::Duration::hours(1), tz));
    let parts = FormPageParts {
        notice: said.notice,
        schedule_at: said.schedule_at.unwrap_or(default_at),
        schedule_error: said.schedule_error,
        withdraw_error: said.withdraw_error,
        link_preview,
        ..FormPageParts::of(&post)
    };
    let sources = feeds::sources(state, vec![post.id]).await?;
    let mut page = form_page(signed_in, context, form, parsed, parts);
    page.from_feed = sources.get(&post.id).map(|s| s.title.clone());
    Ok(page)
}

pub async fn edit_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let tz = hub::context(&state).await?.settings.timezone();
    let notice = notice_for(&query.done, &post, tz);
    let said = Said {
        notice,
        schedule_at: planned_time(&query.at),
        ..Said::default()
    };
    ok(&show_post(&state, &signed_in, post, said).await?)
}

/// Where a status change leads: back to the post with what was done, or
/// the refusal when the post's status does not allow it.
fn changed(change: Change, post_id: i64, done: &str, refusal: &str) -> WebResult<HttpResponse> {
    match change {
        Change::Done => Ok(see_other(&format!("/hub/posts/{post_id}?done={done}"))),
        Change::WrongStatus => Err(AppError::bad_request(refusal.to_string())),
    }
}

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let fields = PostFields::parse(&body)?;
    let context = hub::context(&state).await?;
    let form = fields.draft(&context.settings.enabled_platforms());
    let parsed = context.parse(&form);
    if !post.status.is_editable() {
        return Err(AppError::bad_request(
            "This post has been published, has expired or was withdrawn; it can no longer be edited.",
        ));
    }
    let kept = previews::of_post(&state, PostId::new(post.id)).await?;
    let (link_preview, typed) = fields.link_preview(kept.as_ref());
    let parts = FormPageParts {
        preview: fields.preview(),
        link_preview,
        ..FormPageParts::of(&post)
    };
    let input = match input_or_page(&signed_in, context, form, parsed, parts) {
        Ok(input) => input,
        Err(page) => return *page,
    };
    let link = input.link.clone();
    let by = UserId::new(signed_in.user.id);
    let change = hub::update(&state, PostId::new(post.id), input, by).await?;
    if change == Change::Done {
        previews::after_save(&state, PostId::new(post.id), &link, typed, false).await?;
    }
    changed(
        change,
        post.id,
        "saved",
        "This post can no longer be edited.",
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScheduleForm {
    publish_at: String,
    timezone: String,
    now: String,
}

/// The post again with the schedule's refusal and the time to offer.
async fn refuse_schedule(
    state: &AppState,
    signed_in: &SignedIn,
    post: Post,
    message: String,
    at: String,
) -> WebResult<HttpResponse> {
    let said = Said {
        schedule_error: Some(message),
        schedule_at: Some(at),
        ..Said::default()
    };
    refused(&show_post(state, signed_in, post, said).await?)
}

pub async fn schedule_post(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<ScheduleForm>,
) -> WebResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let typed = form.publish_at.clone();
    let tz = match schedule::parse_timezone(&form.timezone) {
        Ok(tz) => tz,
        Err(e) => return refuse_schedule(&state, &signed_in, post, e.0, typed).await,
    };
    let at = match (form.now.is_empty(), parse_local(&form.publish_at, tz)) {
        (false, _) => None,
        (true, Some(at)) => Some(at),
        (true, None) => {
            let message = "Enter the date and time to publish.".to_string();
            return refuse_schedule(&state, &signed_in, post, message, typed).await;
        }
    };
    let post_id = post.id;
    let done = match hub::schedule(&state, &post, at, UserId::new(signed_in.user.id)).await? {
        Scheduled::Scheduled => "scheduled",
        Scheduled::Published => "published",
        refused => {
            let (message, at) = schedule_refusal(refused, tz, typed)?;
            return refuse_schedule(&state, &signed_in, post, message, at).await;
        }
    };
    Ok(see_other(&format!("/hub/posts/{post_id}?done={done}")))
}

/// Why a schedule did not happen, and the time to show in the form again
/// (the next free slot past a cap, else what was typed).
fn schedule_refusal(refused: Scheduled, tz: Tz, typed: String) -> WebResult<(String, String)> {
    Ok(match refused {
        Scheduled::TimeRefused(message) => (message, typed),
        Scheduled::CapReached {
            platform,
            next_slot,
        } => {
            let at = next_slot.map(|s| format_local(s, tz)).unwrap_or(typed);
            (hub::cap_message(platform, next_slot, tz), at)
        }
        Scheduled::NoPlatforms => (
            "Choose at least one platform before scheduling.".into(),
            typed,
        ),
        Scheduled::NeedsApproval => (hub::NEEDS_APPROVAL.into(), typed),
        Scheduled::WrongStatus | Scheduled::Scheduled | Scheduled::Published => {
            return Err(AppError::bad_request(
                "This post can no longer be scheduled.",
            ));
        }
    })
}

pub async fn submit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let by = UserId::new(signed_in.user.id);
    let change = hub::submit(&state, PostId::new(*id), by).await?;
    let refusal = "Only a draft can be submitted for approval.";
    changed(change, *id, "submitted", refusal)
}

pub async fn unschedule(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let by = UserId::new(signed_in.user.id);
    let change = hub::unschedule(&state, PostId::new(*id), by).await?;
    let refusal = "Only a scheduled post can go back to draft.";
    changed(change, *id, "unscheduled", refusal)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WithdrawForm {
    reason: String,
}

pub async fn withdraw(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<WithdrawForm>,
) -> WebResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let reason = match parse_withdrawal_reason(&form.reason) {
        Ok(reason) => reason,
        Err(refusal) => {
            let said = Said {
                withdraw_error: Some(refusal.0),
                ..Said::default()
            };
            return refused(&show_post(&state, &signed_in, post, said).await?);
        }
    };
    let by = UserId::new(signed_in.user.id);
    let change = hub::withdraw(&state, PostId::new(post.id), reason, by).await?;
    let refusal = "Only a scheduled or published post can be withdrawn.";
    changed(change, post.id, "withdrawn", refusal)
}
