//! The hub's posts: the list, the composer, editing, scheduling and withdrawing.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::platforms::Platform;
use crate::domain::post::{
    self, CaptionCheck, MAX_VARIANTS, PostStatus, check_caption, preview_share_url,
    resolve_variants,
};
use crate::domain::schedule;
use crate::store::posts::{EditOutcome, Post, PostInput, ScheduleOutcome};
use crate::store::{self, StoreError, departments::Department, org::OrgSettings};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, see_other};

/// What the hub pages need from the organisation.
pub struct HubContext {
    pub settings: OrgSettings,
    pub departments: Vec<Department>,
}

pub async fn hub_context(state: &AppState) -> WebResult<HubContext> {
    Ok(state
        .db
        .run(|conn| {
            Ok::<_, StoreError>(HubContext {
                settings: store::org::settings(conn)?,
                departments: store::departments::list(conn)?,
            })
        })
        .await?)
}

/// The form exactly as typed, so a refused form comes back unchanged.
#[derive(Debug, Clone, Default)]
pub struct PostForm {
    pub title: String,
    pub link: String,
    pub base_text: String,
    pub target_all: bool,
    pub department_ids: Vec<i64>,
    pub expires_at: String,
    pub timezone: String,
    /// Per platform: used or not, and the variants typed.
    pub platforms: Vec<(Platform, bool, Vec<String>)>,
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl PostForm {
    fn from_pairs(pairs: &[(String, String)], enabled: &[Platform]) -> PostForm {
        PostForm {
            title: field(pairs, "title"),
            link: field(pairs, "link"),
            base_text: field(pairs, "base_text"),
            target_all: field(pairs, "target") != "departments",
            department_ids: pairs
                .iter()
                .filter(|(k, _)| k == "department")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
            expires_at: field(pairs, "expires_at"),
            timezone: field(pairs, "timezone"),
            platforms: enabled
                .iter()
                .map(|p| {
                    let used = !field(pairs, &format!("use_{}", p.slug())).is_empty();
                    let variants = (1..=MAX_VARIANTS)
                        .map(|n| field(pairs, &format!("caption_{}_{n}", p.slug())))
                        .collect();
                    (*p, used, variants)
                })
                .collect(),
        }
    }

    fn from_post(post: &Post, enabled: &[Platform], tz: Tz, tz_name: &str) -> PostForm {
        let mut platforms: Vec<Platform> = enabled.to_vec();
        for p in post.platforms() {
            if !platforms.contains(&p) {
                platforms.push(p);
            }
        }
        platforms.sort();
        PostForm {
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
                    let written = post
                        .captions
                        .iter()
                        .find(|(q, _)| *q == p)
                        .map(|(_, v)| v.clone());
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
}

/// A datetime-local value ("2026-12-01T09:30") in the given zone, as UTC.
pub fn parse_local(input: &str, tz: Tz) -> Option<NaiveDateTime> {
    let input = input.trim();
    let local = NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some(schedule::local_to_utc(local, tz))
}

pub fn format_local(at_utc: NaiveDateTime, tz: Tz) -> String {
    schedule::utc_to_local(at_utc, tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

fn display_local(at_utc: NaiveDateTime, tz: Tz) -> String {
    schedule::utc_to_local(at_utc, tz)
        .format("%a %d %b %Y, %H:%M")
        .to_string()
}

#[derive(Default)]
pub struct PostErrors {
    pub title: Option<String>,
    pub link: Option<String>,
    pub base_text: Option<String>,
    pub platforms: Option<String>,
    pub captions: Vec<String>,
    pub target: Option<String>,
    pub expires_at: Option<String>,
    pub timezone: Option<String>,
}

impl PostErrors {
    pub fn any(&self) -> bool {
        self.title.is_some()
            || self.link.is_some()
            || self.base_text.is_some()
            || self.platforms.is_some()
            || !self.captions.is_empty()
            || self.target.is_some()
            || self.expires_at.is_some()
            || self.timezone.is_some()
    }
}

/// One platform's section of the form, with each variant's check.
pub struct PlatformSection {
    pub platform: Platform,
    pub used: bool,
    pub variants: Vec<String>,
    pub checks: Vec<CheckView>,
}

pub struct CheckView {
    pub variant: usize,
    pub offered: String,
    pub count: usize,
    pub limit: usize,
    pub fits: bool,
    pub share_url: Option<String>,
}

fn check_view(check: &CaptionCheck, link: &str, title: &str) -> CheckView {
    CheckView {
        variant: check.variant,
        offered: check.offered.clone(),
        count: check.count,
        limit: check.limit,
        fits: check.fits(),
        share_url: preview_share_url(check, link, title),
    }
}

pub(crate) struct Validated {
    pub(crate) input: Option<PostInput>,
    pub(crate) errors: PostErrors,
    sections: Vec<PlatformSection>,
}

pub(crate) fn validate(form: &PostForm, context: &HubContext) -> Validated {
    let mut errors = PostErrors::default();
    let title = post::parse_title(&form.title)
        .map_err(|e| errors.title = Some(e.0))
        .ok();
    let link = post::parse_link(&form.link)
        .map_err(|e| errors.link = Some(e.0))
        .ok();
    let base_text = post::parse_text(&form.base_text, "The base text")
        .map_err(|e| errors.base_text = Some(e.0))
        .ok();
    let tz = schedule::parse_timezone(&form.timezone)
        .map_err(|e| errors.timezone = Some(e.0))
        .ok();
    let expires_at = match (form.expires_at.trim(), tz) {
        ("", _) => None,
        (text, Some(tz)) => match parse_local(text, tz) {
            Some(t) => Some(t),
            None => {
                errors.expires_at =
                    Some("Enter the expiry as a date and time, or leave it empty.".into());
                None
            }
        },
        _ => None,
    };
    if !form.target_all {
        let known: Vec<i64> = context.departments.iter().map(|d| d.id).collect();
        if form.department_ids.is_empty() || form.department_ids.iter().any(|d| !known.contains(d))
        {
            errors.target =
                Some("Choose at least one department, or offer the post to everyone.".into());
        }
    }
    let disclosure = context.settings.disclosure();
    let link_for_count = link.clone().unwrap_or_else(|| form.link.trim().to_string());
    let base = base_text.clone().unwrap_or_default();
    let mut captions = Vec::new();
    let mut sections = Vec::new();
    for (platform, used, written) in &form.platforms {
        let mut section = PlatformSection {
            platform: *platform,
            used: *used,
            variants: written.clone(),
            checks: Vec::new(),
        };
        if *used {
            let mut variants = Vec::new();
            for (index, text) in resolve_variants(&base, written).into_iter().enumerate() {
                match post::parse_text(&text, &format!("{} variant {}", platform.name(), index + 1))
                {
                    Ok(text) => {
                        let check = check_caption(
                            *platform,
                            index + 1,
                            &text,
                            &link_for_count,
                            disclosure.as_deref(),
                        );
                        if let Some(problem) = check.problem() {
                            errors.captions.push(problem);
                        }
                        section
                            .checks
                            .push(check_view(&check, &link_for_count, &form.title));
                        variants.push(text);
                    }
                    Err(e) => errors.captions.push(e.0),
                }
            }
            if platform.accepts_prefilled_text()
                && variants.iter().all(|v| v.trim().is_empty())
                && disclosure.is_none()
            {
                errors.captions.push(format!(
                    "{}: write a caption or a base text.",
                    platform.name()
                ));
            }
            captions.push((*platform, variants));
        }
        sections.push(section);
    }
    if captions.is_empty() {
        errors.platforms = Some("Choose at least one platform for this post.".into());
    }
    let input = match (title, link, base_text, errors.any()) {
        (Some(title), Some(link), Some(base_text), false) => Some(PostInput {
            title,
            link,
            base_text,
            captions,
            target_all: form.target_all,
            department_ids: if form.target_all {
                Vec::new()
            } else {
                form.department_ids.clone()
            },
            expires_at,
        }),
        _ => None,
    };
    Validated {
        input,
        errors,
        sections,
    }
}

// ---- pages -------------------------------------------------------------------------

/// Posts listed at most (newest publish time first).
pub(crate) const LIST_LIMIT: i64 = 200;

pub struct PostRowView {
    pub id: i64,
    pub title: String,
    pub status: &'static str,
    pub when: String,
    pub platforms: String,
}

#[derive(Template)]
#[template(path = "hub/posts.html")]
struct PostsPage {
    page: PageContext,
    rows: Vec<PostRowView>,
    filter: String,
    /// Each status filter and whether it is the current one.
    tabs: Vec<(&'static str, bool)>,
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
    let (posts, settings) = state
        .db
        .run(move |conn| {
            Ok::<_, StoreError>((
                store::posts::list(conn, status, LIST_LIMIT)?,
                store::org::settings(conn)?,
            ))
        })
        .await?;
    let tz = settings.timezone();
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
            })
            .collect(),
        filter: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        tabs: [
            PostStatus::Draft,
            PostStatus::Scheduled,
            PostStatus::Published,
            PostStatus::Expired,
            PostStatus::Withdrawn,
        ]
        .into_iter()
        .map(|s| (s.as_str(), Some(s) == status))
        .collect(),
    })
}

#[derive(Template)]
#[template(path = "hub/post_form.html")]
struct PostFormPage {
    page: PageContext,
    post_id: Option<i64>,
    status: &'static str,
    form: PostForm,
    sections: Vec<PlatformSection>,
    errors: PostErrors,
    departments: Vec<Department>,
    disclosure: Option<String>,
    timezones: Vec<&'static str>,
    notice: Option<String>,
    schedule_at: String,
    schedule_error: Option<String>,
    withdrawal_reason: Option<String>,
    withdraw_error: Option<String>,
    editable: bool,
    can_withdraw: bool,
    preview: bool,
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
}

fn form_page(
    signed_in: &SignedIn,
    context: HubContext,
    form: PostForm,
    validated: Validated,
    parts: FormPageParts,
) -> PostFormPage {
    PostFormPage {
        page: PageContext::from(signed_in),
        post_id: parts.post_id,
        status: parts.status.as_str(),
        editable: parts.status.is_editable(),
        can_withdraw: matches!(parts.status, PostStatus::Scheduled | PostStatus::Published),
        sections: validated.sections,
        errors: validated.errors,
        form,
        departments: context.departments,
        disclosure: context.settings.disclosure(),
        timezones: crate::web::page::timezone_names(),
        notice: parts.notice,
        schedule_at: parts.schedule_at,
        schedule_error: parts.schedule_error,
        withdrawal_reason: parts.withdrawal_reason,
        withdraw_error: parts.withdraw_error,
        preview: parts.preview,
    }
}

fn new_parts() -> FormPageParts {
    FormPageParts {
        post_id: None,
        status: PostStatus::Draft,
        withdrawal_reason: None,
        notice: None,
        schedule_at: String::new(),
        schedule_error: None,
        withdraw_error: None,
        preview: false,
    }
}

pub async fn new_form(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let context = hub_context(&state).await?;
    let enabled = context.settings.enabled_platforms();
    let form = PostForm {
        target_all: true,
        timezone: context.settings.timezone_name().to_string(),
        platforms: enabled
            .iter()
            .map(|p| (*p, true, vec![String::new(); MAX_VARIANTS]))
            .collect(),
        ..PostForm::default()
    };
    let validated = Validated {
        input: None,
        errors: PostErrors::default(),
        sections: form
            .platforms
            .iter()
            .map(|(p, used, v)| PlatformSection {
                platform: *p,
                used: *used,
                variants: v.clone(),
                checks: Vec::new(),
            })
            .collect(),
    };
    ok(&form_page(
        &signed_in,
        context,
        form,
        validated,
        new_parts(),
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let pairs = pairs(&body);
    let context = hub_context(&state).await?;
    let form = PostForm::from_pairs(&pairs, &context.settings.enabled_platforms());
    let validated = validate(&form, &context);
    let preview = field(&pairs, "action") == "preview";
    let Some(input) = validated.input.clone().filter(|_| !preview) else {
        let parts = FormPageParts {
            preview,
            ..new_parts()
        };
        let failed = validated.errors.any();
        let page = form_page(&signed_in, context, form, validated, parts);
        return if failed { refused(&page) } else { ok(&page) };
    };
    let now = state.clock.now_naive();
    let by = signed_in.user.id;
    let id = state
        .db
        .run(move |conn| store::posts::create_draft(conn, &input, by, now))
        .await?;
    Ok(see_other(&format!("/hub/posts/{id}?done=saved")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

pub(crate) async fn load_post(state: &AppState, id: i64) -> WebResult<Post> {
    state
        .db
        .run(move |conn| store::posts::find(conn, id))
        .await?
        .ok_or_else(AppError::not_found)
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
        _ => None,
    }
}

async fn show_post(
    state: &AppState,
    signed_in: &SignedIn,
    post: Post,
    notice: Option<String>,
    schedule_error: Option<String>,
    withdraw_error: Option<String>,
    schedule_at: Option<String>,
) -> WebResult<PostFormPage> {
    let context = hub_context(state).await?;
    let tz = context.settings.timezone();
    let form = PostForm::from_post(
        &post,
        &context.settings.enabled_platforms(),
        tz,
        context.settings.timezone_name(),
    );
    let validated = validate(&form, &context);
    let default_at = post
        .publish_at
        .map(|t| format_local(t, tz))
        .unwrap_or_else(|| format_local(state.clock.now_naive() + chrono::Duration::hours(1), tz));
    Ok(form_page(
        signed_in,
        context,
        form,
        Validated {
            errors: PostErrors::default(),
            ..validated
        },
        FormPageParts {
            post_id: Some(post.id),
            status: post.status,
            withdrawal_reason: post.withdrawal_reason.clone(),
            notice,
            schedule_at: schedule_at.unwrap_or(default_at),
            schedule_error,
            withdraw_error,
            preview: false,
        },
    ))
}

pub async fn edit_form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let post = load_post(&state, *id).await?;
    let tz = hub_context(&state).await?.settings.timezone();
    let notice = notice_for(&query.done, &post, tz);
    ok(&show_post(&state, &signed_in, post, notice, None, None, None).await?)
}

pub async fn update(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let post = load_post(&state, *id).await?;
    let pairs = pairs(&body);
    let context = hub_context(&state).await?;
    let form = PostForm::from_pairs(&pairs, &context.settings.enabled_platforms());
    let validated = validate(&form, &context);
    let preview = field(&pairs, "action") == "preview";
    let parts = FormPageParts {
        post_id: Some(post.id),
        status: post.status,
        withdrawal_reason: post.withdrawal_reason.clone(),
        notice: None,
        schedule_at: String::new(),
        schedule_error: None,
        withdraw_error: None,
        preview,
    };
    if !post.status.is_editable() {
        return Err(AppError::bad_request(
            "This post has been published, has expired or was withdrawn; it can no longer be edited.",
        ));
    }
    let Some(input) = validated.input.clone().filter(|_| !preview) else {
        let failed = validated.errors.any();
        let page = form_page(&signed_in, context, form, validated, parts);
        return if failed { refused(&page) } else { ok(&page) };
    };
    let now = state.clock.now_naive();
    let post_id = post.id;
    match state
        .db
        .run(move |conn| store::posts::update(conn, post_id, &input, now))
        .await?
    {
        EditOutcome::Done => Ok(see_other(&format!("/hub/posts/{post_id}?done=saved"))),
        EditOutcome::NotFound => Err(AppError::not_found()),
        EditOutcome::NotEditable => {
            Err(AppError::bad_request("This post can no longer be edited."))
        }
    }
}

/// A publish time the hub may choose: not in the past, not after the expiry.
pub(crate) fn check_publish_time(
    post: &Post,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), String> {
    if at < now - chrono::Duration::minutes(1) {
        return Err("That time has passed. Choose a time in the future, or publish now.".into());
    }
    if post.expires_at.is_some_and(|e| e <= at) {
        return Err(
            "The post would expire before it is published. Change the expiry first.".into(),
        );
    }
    Ok(())
}

/// Why a schedule was refused by the hub cap, naming the next free slot.
pub(crate) fn cap_message(platform: Platform, next_slot: Option<NaiveDateTime>, tz: Tz) -> String {
    match next_slot {
        Some(slot) => format!(
            "The hub cap for {} is reached for that day or week. The next free slot for every platform of this post is {} ({}).",
            platform.name(),
            display_local(slot, tz),
            tz.name()
        ),
        None => format!(
            "The hub cap for {} is 0: nothing can be published there. Change the caps under Settings.",
            platform.name()
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ScheduleForm {
    publish_at: String,
    timezone: String,
    now: String,
}

pub async fn schedule_post(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<ScheduleForm>,
) -> WebResult<HttpResponse> {
    let post = load_post(&state, *id).await?;
    let settings = hub_context(&state).await?.settings;
    let org_tz = settings.timezone();
    let now = state.clock.now_naive();
    let refuse = |message: String, post: Post| {
        let at = form.publish_at.clone();
        let state = state.clone();
        let signed_in = &signed_in;
        async move {
            refused(&show_post(&state, signed_in, post, None, Some(message), None, Some(at)).await?)
        }
    };
    let tz = match schedule::parse_timezone(&form.timezone) {
        Ok(tz) => tz,
        Err(e) => return refuse(e.0, post).await,
    };
    let at = if !form.now.is_empty() {
        now
    } else {
        match parse_local(&form.publish_at, tz) {
            Some(at) => at,
            None => return refuse("Enter the date and time to publish.".into(), post).await,
        }
    };
    if let Err(message) = check_publish_time(&post, at, now) {
        return refuse(message, post).await;
    }
    let by = signed_in.user.id;
    let post_id = post.id;
    let outcome = state
        .db
        .run(move |conn| store::posts::schedule(conn, post_id, at, org_tz, by, now))
        .await?;
    match outcome {
        ScheduleOutcome::Scheduled => {
            Ok(see_other(&format!("/hub/posts/{post_id}?done=scheduled")))
        }
        ScheduleOutcome::Published => {
            Ok(see_other(&format!("/hub/posts/{post_id}?done=published")))
        }
        ScheduleOutcome::CapReached {
            platform,
            next_slot,
        } => {
            let message = cap_message(platform, next_slot, tz);
            let at_text = next_slot
                .map(|s| format_local(s, tz))
                .unwrap_or_else(|| form.publish_at.clone());
            refused(
                &show_post(
                    &state,
                    &signed_in,
                    post,
                    None,
                    Some(message),
                    None,
                    Some(at_text),
                )
                .await?,
            )
        }
        ScheduleOutcome::NoPlatforms => {
            refuse(
                "Choose at least one platform before scheduling.".into(),
                post,
            )
            .await
        }
        ScheduleOutcome::NotEditable => Err(AppError::bad_request(
            "This post can no longer be scheduled.",
        )),
        ScheduleOutcome::NotFound => Err(AppError::not_found()),
    }
}

pub async fn unschedule(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let (post_id, by, now) = (*id, signed_in.user.id, state.clock.now_naive());
    match state
        .db
        .run(move |conn| store::posts::unschedule(conn, post_id, by, now))
        .await?
    {
        EditOutcome::Done => Ok(see_other(&format!("/hub/posts/{post_id}?done=unscheduled"))),
        EditOutcome::NotFound => Err(AppError::not_found()),
        EditOutcome::NotEditable => Err(AppError::bad_request(
            "Only a scheduled post can go back to draft.",
        )),
    }
}

/// The reason shown to those who shared a withdrawn post: one line, 1–500 characters.
pub(crate) fn parse_withdrawal_reason(input: &str) -> Result<String, String> {
    let reason = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(
            "Say why it is withdrawn (at most 500 characters): people who shared it will see this."
                .to_string(),
        );
    }
    Ok(reason)
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
    let post = load_post(&state, *id).await?;
    let reason = match parse_withdrawal_reason(&form.reason) {
        Ok(reason) => reason,
        Err(message) => {
            return refused(
                &show_post(&state, &signed_in, post, None, None, Some(message), None).await?,
            );
        }
    };
    let (post_id, by, now) = (post.id, signed_in.user.id, state.clock.now_naive());
    let domain = state.mail_domain.clone();
    match state
        .db
        .run(move |conn| {
            store::posts::withdraw_and_notify(conn, post_id, &reason, by, now, &domain)
        })
        .await?
    {
        EditOutcome::Done => Ok(see_other(&format!("/hub/posts/{post_id}?done=withdrawn"))),
        EditOutcome::NotFound => Err(AppError::not_found()),
        EditOutcome::NotEditable => Err(AppError::bad_request(
            "Only a scheduled or published post can be withdrawn.",
        )),
    }
}
