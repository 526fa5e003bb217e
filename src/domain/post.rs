//! A hub post as comms writes it: title, link, base text and caption
//! variants per platform, each checked against the platform's counting
//! rules with the link and the disclosure included.

mod draft;

pub use draft::{
    CaptionProblem, ParsedDraft, PostDraft, PostErrors, PostInput, check_publish_time,
    format_local, parse_local, parse_withdrawal_reason,
};

use super::Invalid;
use super::disclosure;
use super::platforms::{Platform, Share};

/// Variants per platform: enough that a crowd does not post identical text.
pub const MAX_VARIANTS: usize = 3;
const MAX_TITLE_CHARS: usize = 120;
const MAX_TEXT_CHARS: usize = 5_000;
const MAX_LINK_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostStatus {
    Draft,
    /// Waiting for approval (only while the organisation asks for it).
    Submitted,
    /// Approved by someone who did not write it; may be scheduled.
    Approved,
    Scheduled,
    Published,
    Expired,
    Withdrawn,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Submitted => "submitted",
            PostStatus::Approved => "approved",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Published => "published",
            PostStatus::Expired => "expired",
            PostStatus::Withdrawn => "withdrawn",
        }
    }

    /// Every status, in the order a post moves through them.
    pub const ALL: [PostStatus; 7] = [
        PostStatus::Draft,
        PostStatus::Submitted,
        PostStatus::Approved,
        PostStatus::Scheduled,
        PostStatus::Published,
        PostStatus::Expired,
        PostStatus::Withdrawn,
    ];

    pub fn parse(s: &str) -> Option<PostStatus> {
        PostStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Posts not yet published may still be edited; what employees have
    /// seen may only be withdrawn.
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            PostStatus::Draft
                | PostStatus::Submitted
                | PostStatus::Approved
                | PostStatus::Scheduled
        )
    }
}

/// The two-person rule: while the organisation asks for approval, a post
/// goes draft → submitted → approved → scheduled or published, and is
/// approved by someone who neither wrote nor edited it.
pub mod approval {
    use super::PostStatus;

    /// Where an edit leaves a post. An approved post (scheduled or not)
    /// goes back to submitted: what was approved is no longer what would
    /// be published. Without approval a scheduled post goes back to draft,
    /// to be scheduled again within the caps.
    pub fn status_after_edit(status: PostStatus, needs_approval: bool) -> PostStatus {
        match (status, needs_approval) {
            (PostStatus::Approved | PostStatus::Scheduled, true) => PostStatus::Submitted,
            (PostStatus::Approved | PostStatus::Scheduled, false) => PostStatus::Draft,
            (other, _) => other,
        }
    }

    /// The statuses a post may be scheduled or published from. With
    /// approval, only an approved post (or a scheduled one that was
    /// approved: `approved` tells) moves on.
    pub fn may_schedule(status: PostStatus, approved: bool, needs_approval: bool) -> bool {
        match status {
            PostStatus::Draft | PostStatus::Submitted => !needs_approval,
            PostStatus::Approved => true,
            PostStatus::Scheduled => approved || !needs_approval,
            PostStatus::Published | PostStatus::Expired | PostStatus::Withdrawn => false,
        }
    }

    /// Why `approver` may not approve a post written by `created_by` and
    /// last edited by `edited_by`, if they may not.
    pub fn refusal(
        approver: i64,
        created_by: Option<i64>,
        edited_by: Option<i64>,
    ) -> Option<&'static str> {
        (created_by == Some(approver) || edited_by == Some(approver)).then_some(
            "You wrote or edited this post: another comms person or an admin approves it.",
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_edit_after_approval_needs_approval_again() {
            for st in [PostStatus::Approved, PostStatus::Scheduled] {
                assert_eq!(status_after_edit(st, true), PostStatus::Submitted);
                assert_eq!(status_after_edit(st, false), PostStatus::Draft);
            }
            assert_eq!(
                status_after_edit(PostStatus::Submitted, true),
                PostStatus::Submitted
            );
            assert_eq!(
                status_after_edit(PostStatus::Draft, true),
                PostStatus::Draft
            );
        }

        #[test]
        fn only_approved_posts_are_scheduled_while_approval_is_asked_for() {
            assert!(!may_schedule(PostStatus::Draft, false, true));
            assert!(!may_schedule(PostStatus::Submitted, false, true));
            assert!(may_schedule(PostStatus::Approved, true, true));
            assert!(!may_schedule(PostStatus::Scheduled, false, true));
            assert!(may_schedule(PostStatus::Scheduled, true, true));
            assert!(may_schedule(PostStatus::Draft, false, false));
            assert!(!may_schedule(PostStatus::Published, true, false));
        }

        #[test]
        fn neither_the_author_nor_the_last_editor_approves() {
            assert!(refusal(1, Some(1), None).is_some());
            assert!(refusal(2, Some(1), Some(2)).is_some());
            assert!(refusal(3, Some(1), Some(2)).is_none());
            assert!(refusal(3, None, None).is_none());
        }
    }
}

pub fn parse_title(input: &str) -> Result<String, Invalid> {
    let title = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        return Err(Invalid::new("Give the post an internal title."));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Invalid::new(format!(
            "A title has at most {MAX_TITLE_CHARS} characters."
        )));
    }
    Ok(title)
}

/// An absolute http or https link, as employees will share it.
pub fn parse_link(input: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(
            "Enter the link to share, starting with https://.",
        ));
    }
    if trimmed.chars().count() > MAX_LINK_CHARS {
        return Err(Invalid::new(format!(
            "A link has at most {MAX_LINK_CHARS} characters."
        )));
    }
    let url = url::Url::parse(trimmed)
        .map_err(|_| Invalid::new("Enter a full link such as https://example.com/news."))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(|h| !h.contains('.'))
    {
        return Err(Invalid::new(
            "Only http:// and https:// links to a public site can be shared.",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new(
            "A shared link cannot contain a user name or password.",
        ));
    }
    Ok(url.to_string())
}

/// The host a post's link points to, as shown beside it ("" when the link
/// has none).
pub fn link_host(link: &str) -> String {
    url::Url::parse(link)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn parse_text(input: &str, what: &str) -> Result<String, Invalid> {
    let text = input.replace("\r\n", "\n").trim().to_string();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Invalid::new(format!(
            "{what} has at most {MAX_TEXT_CHARS} characters."
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Invalid::new(format!(
            "{what} cannot contain control characters."
        )));
    }
    Ok(text)
}

/// The variants comms wrote for a platform; an empty first variant means
/// "use the base text", further empty variants are dropped.
pub fn resolve_variants(base_text: &str, written: &[String]) -> Vec<String> {
    let mut variants: Vec<String> = written
        .iter()
        .map(|v| v.trim().to_string())
        .take(MAX_VARIANTS)
        .collect();
    if variants.first().is_none_or(|v| v.is_empty()) {
        if variants.is_empty() {
            variants.push(String::new());
        }
        variants[0] = base_text.to_string();
    }
    let first = variants.remove(0);
    std::iter::once(first)
        .chain(variants.into_iter().filter(|v| !v.is_empty()))
        .collect()
}

/// Like [`resolve_variants`], with the field (1-based) each variant was
/// typed in; the base text counts as typed in the first field.
pub fn resolve_variant_fields(base_text: &str, written: &[String]) -> Vec<(usize, String)> {
    let mut fields: Vec<usize> = written
        .iter()
        .take(MAX_VARIANTS)
        .enumerate()
        .skip(1)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect();
    fields.insert(0, 1);
    fields
        .into_iter()
        .zip(resolve_variants(base_text, written))
        .collect()
}

/// A caption as one employee will get it, and whether it fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionCheck {
    pub platform: Platform,
    /// 1-based, as shown to comms.
    pub variant: usize,
    /// The composer's field this caption was typed in (1-based): empty
    /// fields are skipped, and an empty first field means the base text.
    pub field: usize,
    pub offered: String,
    /// The link as this platform's share dialog carries it (with the
    /// organisation's tags), counted with the caption.
    pub link: String,
    pub count: usize,
    pub limit: usize,
}

impl CaptionCheck {
    pub fn fits(&self) -> bool {
        self.count <= self.limit
    }

    pub fn problem(&self) -> Option<String> {
        (!self.fits()).then(|| {
            format!(
                "{} variant {}: {} of {} characters, counting the link and the disclosure as {} counts them. Shorten it by {}.",
                self.platform.name(),
                self.variant,
                self.count,
                self.limit,
                self.platform.name(),
                self.count - self.limit
            )
        })
    }
}

/// The text offered for a caption: the caption with the disclosure placed
/// in it when the organisation requires one.
pub fn offered_text(caption: &str, disclosure_text: Option<&str>) -> String {
    match disclosure_text {
        Some(d) if !d.trim().is_empty() => disclosure::offered_text(caption, d),
        _ => caption.to_string(),
    }
}

/// Checks a caption as it will be shared on `platform`, with `link` as
/// that platform's share dialog carries it (tagged: see `utm::LinkTags`).
pub fn check_caption(
    platform: Platform,
    variant: usize,
    caption: &str,
    link: &str,
    disclosure_text: Option<&str>,
) -> CaptionCheck {
    let offered = offered_text(caption, disclosure_text);
    CaptionCheck {
        platform,
        variant,
        field: variant,
        count: platform.count_with_link(&offered, link),
        limit: platform.text_limit(),
        link: link.to_string(),
        offered,
    }
}

/// The platform's own share dialog for this caption and its tagged link;
/// Mastodon needs the person's instance, so previews use an example one.
pub fn preview_share_url(check: &CaptionCheck, title: &str) -> Option<String> {
    let example = super::platforms::InstanceHost::parse("mastodon.social").ok();
    check
        .platform
        .share_url(&Share {
            text: &check.offered,
            url: &check.link,
            title,
            instance: example.as_ref(),
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_be_absolute_http_or_https_to_a_public_host() {
        assert_eq!(
            parse_link(" https://example.com/news?a=1 ").unwrap(),
            "https://example.com/news?a=1"
        );
        for bad in [
            "",
            "example.com",
            "javascript:alert(1)",
            "ftp://example.com/x",
            "http://localhost/x",
            "https://user:pw@example.com/",
        ] {
            assert!(parse_link(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_first_variant_uses_the_base_text_and_empty_extras_are_dropped() {
        let base = "Our report is out.";
        assert_eq!(resolve_variants(base, &[]), vec![base]);
        assert_eq!(resolve_variants(base, &["".into(), "".into()]), vec![base]);
        assert_eq!(
            resolve_variants(base, &["".into(), "Second take".into(), " ".into()]),
            vec![base, "Second take"]
        );
        assert_eq!(resolve_variants(base, &["Own".into()]), vec!["Own"]);
    }

    #[test]
    fn each_variant_knows_the_field_it_was_typed_in() {
        let base = "Our report is out.";
        let typed = ["".into(), " ".into(), "Third box".into()];
        assert_eq!(
            resolve_variant_fields(base, &typed),
            vec![(1, base.to_string()), (3, "Third box".to_string())]
        );
    }

    #[test]
    fn a_caption_is_counted_with_the_link_and_the_disclosure() {
        let link = "https://example.com/a-very-long-path/that-x-counts-as-23-anyway";
        let caption = "a".repeat(250);
        let without = check_caption(Platform::X, 1, &caption, link, None);
        assert_eq!(without.count, 250 + 1 + 23);
        assert!(without.fits());
        let with = check_caption(Platform::X, 1, &caption, link, Some("I work at Acme."));
        assert_eq!(with.count, "I work at Acme. ".len() + 250 + 1 + 23);
        assert!(!with.fits());
        let problem = with.problem().unwrap();
        assert!(
            problem.contains("X variant 1: 290 of 280 characters"),
            "{problem}"
        );
        assert!(problem.contains("Shorten it by 10"), "{problem}");
        assert!(with.offered.starts_with("I work at Acme. "));
    }

    #[test]
    fn only_posts_not_yet_published_are_editable() {
        assert!(PostStatus::Draft.is_editable() && PostStatus::Scheduled.is_editable());
        assert!(PostStatus::Submitted.is_editable() && PostStatus::Approved.is_editable());
        for st in [
            PostStatus::Published,
            PostStatus::Expired,
            PostStatus::Withdrawn,
        ] {
            assert!(!st.is_editable());
            assert_eq!(PostStatus::parse(st.as_str()), Some(st));
        }
    }
}

/// Which caption variant a person is offered: stable for that person and
/// post, and spread across colleagues so a crowd does not post identical text.
pub fn variant_for(user_id: i64, post_id: i64, variants: usize) -> usize {
    if variants == 0 {
        return 0;
    }
    (user_id.unsigned_abs() as usize + post_id.unsigned_abs() as usize) % variants
}

#[cfg(test)]
mod variant_tests {
    use super::variant_for;

    #[test]
    fn colleagues_get_different_variants_and_one_person_always_the_same() {
        let offered: Vec<usize> = (1..=6).map(|user| variant_for(user, 10, 3)).collect();
        assert!(offered.contains(&0) && offered.contains(&1) && offered.contains(&2));
        assert_eq!(variant_for(4, 10, 3), variant_for(4, 10, 3));
        assert_eq!(variant_for(4, 10, 1), 0);
        assert_eq!(variant_for(4, 10, 0), 0);
    }
}
