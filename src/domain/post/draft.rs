//! A post as comms typed it (the hub's form or the API), and its parsing
//! into a [`PostInput`] that can be saved: every field checked, every
//! caption counted as its platform counts it.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::{
    CaptionCheck, check_caption, parse_link, parse_text, parse_title, resolve_variant_fields,
};
use crate::domain::Invalid;
use crate::domain::platforms::Platform;
use crate::domain::schedule;
use crate::domain::utm::LinkTags;

/// A post that passed [`PostDraft::parse`]: what the store saves.
#[derive(Debug, Clone)]
pub struct PostInput {
    pub title: String,
    pub link: String,
    pub base_text: String,
    pub captions: Vec<(Platform, Vec<String>)>,
    pub target_all: bool,
    pub department_ids: Vec<i64>,
    pub expires_at: Option<NaiveDateTime>,
}

/// The draft exactly as typed, so a refused one comes back unchanged.
#[derive(Debug, Clone, Default)]
pub struct PostDraft {
    pub title: String,
    pub link: String,
    pub base_text: String,
    pub target_all: bool,
    pub department_ids: Vec<i64>,
    /// A local date and time in `timezone` ("2026-12-01T09:30"), or empty.
    pub expires_at: String,
    pub timezone: String,
    /// Per platform: used or not, and the variants typed.
    pub platforms: Vec<(Platform, bool, Vec<String>)>,
}

/// Why a draft was refused, field by field.
#[derive(Debug, Default)]
pub struct PostErrors {
    pub title: Option<String>,
    pub link: Option<String>,
    pub base_text: Option<String>,
    pub platforms: Option<String>,
    pub captions: Vec<CaptionProblem>,
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

/// Why one caption was refused, and the composer's field it was typed in
/// (1-based; the first field of a caption left empty stands for the base
/// text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionProblem {
    pub platform: Platform,
    pub field: usize,
    pub message: String,
}

/// A parsed draft: the post when nothing was refused, the refusals, and
/// each platform's caption checks (in the draft's order, empty when the
/// platform is not used) for the composer to show.
#[derive(Debug)]
pub struct ParsedDraft {
    pub input: Option<PostInput>,
    pub errors: PostErrors,
    pub checks: Vec<Vec<CaptionCheck>>,
}

/// A UTC time as a datetime-local value ("2026-12-01T09:30") in the given zone.
pub fn format_local(at_utc: NaiveDateTime, tz: Tz) -> String {
    schedule::utc_to_local(at_utc, tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// A datetime-local value ("2026-12-01T09:30") in the given zone, as UTC.
pub fn parse_local(input: &str, tz: Tz) -> Option<NaiveDateTime> {
    let input = input.trim();
    let local = NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(input, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some(schedule::local_to_utc(local, tz))
}

impl PostDraft {
    /// Checks every field against the organisation's departments and
    /// disclosure; each caption is counted with the disclosure and the link
    /// as that platform will carry it, tagged with `tags`.
    pub fn parse(
        &self,
        departments: &[i64],
        disclosure: Option<&str>,
        tags: &LinkTags,
    ) -> ParsedDraft {
        let mut errors = PostErrors::default();
        let title = parse_title(&self.title)
            .map_err(|e| errors.title = Some(e.0))
            .ok();
        let link = parse_link(&self.link)
            .map_err(|e| errors.link = Some(e.0))
            .ok();
        let base_text = parse_text(&self.base_text, "The base text")
            .map_err(|e| errors.base_text = Some(e.0))
            .ok();
        let tz = schedule::parse_timezone(&self.timezone)
            .map_err(|e| errors.timezone = Some(e.0))
            .ok();
        let expires_at = match (self.expires_at.trim(), tz) {
            ("", _) => None,
            (text, Some(tz)) => parse_local(text, tz).or_else(|| {
                errors.expires_at =
                    Some("Enter the expiry as a date and time, or leave it empty.".into());
                None
            }),
            _ => None,
        };
        if !self.target_all
            && (self.department_ids.is_empty()
                || self.department_ids.iter().any(|d| !departments.contains(d)))
        {
            errors.target =
                Some("Choose at least one department, or offer the post to everyone.".into());
        }
        let link_for_count = link.clone().unwrap_or_else(|| self.link.trim().to_string());
        let base = base_text.clone().unwrap_or_default();
        let mut captions = Vec::new();
        let mut checks = Vec::new();
        for (platform, used, written) in &self.platforms {
            let mut platform_checks = Vec::new();
            if *used {
                let slug_title = title.as_deref().unwrap_or(&self.title);
                let link = tags.link_for(&link_for_count, *platform, slug_title);
                let variants = parse_variants(
                    *platform,
                    &base,
                    written,
                    &link,
                    disclosure,
                    &mut errors,
                    &mut platform_checks,
                );
                captions.push((*platform, variants));
            }
            checks.push(platform_checks);
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
                target_all: self.target_all,
                department_ids: if self.target_all {
                    Vec::new()
                } else {
                    self.department_ids.clone()
                },
                expires_at,
            }),
            _ => None,
        };
        ParsedDraft {
            input,
            errors,
            checks,
        }
    }
}

/// One platform's variants, each parsed and counted; refusals go to `errors`.
fn parse_variants(
    platform: Platform,
    base: &str,
    written: &[String],
    link: &str,
    disclosure: Option<&str>,
    errors: &mut PostErrors,
    checks: &mut Vec<CaptionCheck>,
) -> Vec<String> {
    let mut variants = Vec::new();
    let problem = |field: usize, message: String| CaptionProblem {
        platform,
        field,
        message,
    };
    let resolved = resolve_variant_fields(base, written);
    // Each variant is named by the field it was written in, so an empty
    // variant 2 does not make variant 3's problem read "variant 2".
    for (field, text) in resolved {
        match parse_text(&text, &format!("{} variant {field}", platform.name())) {
            Ok(text) => {
                let mut check = check_caption(platform, field, &text, link, disclosure);
                check.field = field;
                if let Some(message) = check.problem() {
                    errors.captions.push(problem(field, message));
                }
                checks.push(check);
                variants.push(text);
            }
            Err(e) => errors.captions.push(problem(field, e.0)),
        }
    }
    if platform.accepts_prefilled_text()
        && variants.iter().all(|v| v.trim().is_empty())
        && disclosure.is_none()
    {
        let message = format!("{}: write a caption or a base text.", platform.name());
        errors.captions.push(problem(1, message));
    }
    variants
}

/// A publish time the hub may choose: not in the past, not after the expiry.
pub fn check_publish_time(
    expires_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), Invalid> {
    if at < now - chrono::Duration::minutes(1) {
        return Err(Invalid::new(
            "That time has passed. Choose a time in the future, or publish now.",
        ));
    }
    if expires_at.is_some_and(|e| e <= at) {
        return Err(Invalid::new(
            "The post would expire before it is published. Change the expiry first.",
        ));
    }
    Ok(())
}

/// The reason shown to those who shared a withdrawn post: one line, 1–500 characters.
pub fn parse_withdrawal_reason(input: &str) -> Result<String, Invalid> {
    let reason = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Invalid::new(
            "Say why it is withdrawn (at most 500 characters): people who shared it will see this.",
        ));
    }
    Ok(reason)
}
