//! UTM tags on shared links: the organisation's template as an admin types
//! it, checked, and the link each platform's share dialog carries. The
//! company's own analytics (Matomo, Plausible, GA) read the tags; Chorus
//! itself tracks nobody, and the tags name a platform and a post, never a
//! person.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use url::Url;

use super::Invalid;
use super::platforms::Platform;

/// What an organisation starts with.
pub const DEFAULT_TEMPLATE: &str =
    "utm_source={platform}&utm_medium=employee_advocacy&utm_campaign={post_slug}";
const MAX_TEMPLATE_CHARS: usize = 500;
const MAX_SLUG_CHARS: usize = 60;

/// RFC 3986 §2.3: everything but the unreserved characters is escaped, so a
/// placeholder's value can never end a parameter early.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A checked template: `name=value` pairs whose values may hold the
/// placeholders `{platform}` and `{post_slug}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtmTemplate {
    params: Vec<(String, Vec<Piece>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Written as it stands in the link (already URL-safe).
    Text(String),
    Platform,
    PostSlug,
}

const UNKNOWN_PLACEHOLDER: &str = "is not a placeholder. Use {platform} or {post_slug}.";

impl UtmTemplate {
    /// Accepts `utm_source={platform}&utm_medium=employee_advocacy`, with or
    /// without a leading "?". Values hold letters, digits, `- . _ ~`,
    /// percent-escapes such as `%20`, and the placeholders.
    pub fn parse(input: &str) -> Result<UtmTemplate, Invalid> {
        let input = input.trim();
        let input = input.strip_prefix('?').unwrap_or(input);
        if input.is_empty() {
            return Err(Invalid::new(
                "Enter the tags to add, such as utm_source={platform}, or turn tagging off.",
            ));
        }
        if input.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(Invalid::new(format!(
                "The tags have at most {MAX_TEMPLATE_CHARS} characters."
            )));
        }
        let mut params: Vec<(String, Vec<Piece>)> = Vec::new();
        for pair in input.split('&').filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(Invalid::new(format!(
                    "“{pair}” needs a value: write it as name=value."
                )));
            };
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !name_ok {
                return Err(Invalid::new(format!(
                    "“{name}” is not a parameter name: use letters, digits, _ . and -."
                )));
            }
            if params.iter().any(|(n, _)| n == name) {
                return Err(Invalid::new(format!("“{name}” appears twice.")));
            }
            if value.is_empty() {
                return Err(Invalid::new(format!("Give {name} a value.")));
            }
            params.push((name.to_string(), parse_value(value)?));
        }
        Ok(UtmTemplate { params })
    }

    /// The parameter names, in the template's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(n, _)| n.as_str())
    }
}

impl Default for UtmTemplate {
    fn default() -> UtmTemplate {
        UtmTemplate::parse(DEFAULT_TEMPLATE).unwrap_or(UtmTemplate { params: Vec::new() })
    }
}

fn parse_value(value: &str) -> Result<Vec<Piece>, Invalid> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = value;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' => {
                let Some(end) = rest.find('}') else {
                    return Err(Invalid::new(
                        "A “{” has no closing “}”. Use {platform} or {post_slug}.",
                    ));
                };
                let piece = match &rest[..=end] {
                    "{platform}" => Piece::Platform,
                    "{post_slug}" => Piece::PostSlug,
                    other => {
                        return Err(Invalid::new(format!("{other} {UNKNOWN_PLACEHOLDER}")));
                    }
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
                rest = &rest[end + 1..];
            }
            '%' => {
                let escape = rest
                    .get(..3)
                    .filter(|e| e.bytes().skip(1).all(|b| b.is_ascii_hexdigit()) && e.len() == 3);
                let Some(escape) = escape else {
                    return Err(Invalid::new(
                        "A “%” starts an escape of two hex digits, such as %20.",
                    ));
                };
                text.push_str(escape);
                rest = &rest[3..];
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~') => {
                text.push(c);
                rest = &rest[1..];
            }
            '}' => {
                return Err(Invalid::new(
                    "A “}” has no opening “{”. Use {platform} or {post_slug}.",
                ));
            }
            other => {
                return Err(Invalid::new(format!(
                    "Values may hold letters, digits, - . _ ~, escapes such as %20 \
                     and the placeholders {{platform}} and {{post_slug}}, not “{other}”."
                )));
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The post's title as a campaign name: lower case, accents dropped,
/// words joined by "-", at most 60 characters; "post" when nothing is left.
pub fn post_slug(title: &str) -> String {
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in title.nfkd().filter(|c| !is_combining_mark(*c)) {
        let lower: String = c.to_lowercase().filter(|l| l.is_alphanumeric()).collect();
        if c.is_alphanumeric() && !lower.is_empty() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push_str(&lower);
        } else {
            pending_dash = true;
        }
        if slug.chars().count() >= MAX_SLUG_CHARS {
            break;
        }
    }
    let slug: String = slug.chars().take(MAX_SLUG_CHARS).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "post".to_string()
    } else {
        slug.to_string()
    }
}

/// Link tagging as the organisation set it: off, or on with a template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTags {
    template: Option<UtmTemplate>,
}

impl LinkTags {
    pub fn off() -> LinkTags {
        LinkTags { template: None }
    }

    pub fn on(template: UtmTemplate) -> LinkTags {
        LinkTags {
            template: Some(template),
        }
    }

    /// From the stored settings; a stored template that no longer parses
    /// (it was checked when saved) falls back to the default one.
    pub fn from_settings(enabled: bool, template: &str) -> LinkTags {
        if !enabled {
            return LinkTags::off();
        }
        LinkTags::on(UtmTemplate::parse(template).unwrap_or_default())
    }

    pub fn enabled(&self) -> bool {
        self.template.is_some()
    }

    /// Whether tagged links carry the post's title (as its slug).
    pub fn uses_post_slug(&self) -> bool {
        self.template.as_ref().is_some_and(|t| {
            t.params
                .iter()
                .any(|(_, pieces)| pieces.contains(&Piece::PostSlug))
        })
    }

    /// The link as shared on `platform` for the post titled `title`.
    pub fn link_for(&self, link: &str, platform: Platform, title: &str) -> String {
        match &self.template {
            Some(template) => tagged_link(link, template, platform, &post_slug(title)),
            None => link.to_string(),
        }
    }

    /// The link as shared on any platform, with [`PLATFORM_PLACEHOLDER`]
    /// where that platform's slug goes: a page sends it once per post
    /// instead of once per platform. None when the link itself holds the
    /// placeholder (the substitution would change the link too).
    pub fn link_pattern(&self, link: &str, title: &str) -> Option<String> {
        if link.contains(PLATFORM_PLACEHOLDER) {
            return None;
        }
        Some(match &self.template {
            Some(template) => tag(link, template, None, &post_slug(title)),
            None => link.to_string(),
        })
    }
}

/// What stands for the platform's slug in [`LinkTags::link_pattern`].
pub const PLATFORM_PLACEHOLDER: &str = "{platform}";

/// `link` with the template's parameters appended after its own, which stay
/// as they are and in their order; its fragment stays at the end. A
/// parameter the link already has keeps the link's value (no key twice).
/// A link that is no absolute http(s) URL is returned as it is: sharing
/// refuses it anyway.
pub fn tagged_link(link: &str, template: &UtmTemplate, platform: Platform, slug: &str) -> String {
    tag(link, template, Some(platform), slug)
}

/// [`tagged_link`], with the placeholder written as it is where no
/// platform is given.
fn tag(link: &str, template: &UtmTemplate, platform: Option<Platform>, slug: &str) -> String {
    let Ok(mut url) = Url::parse(link.trim()) else {
        return link.to_string();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return link.to_string();
    }
    let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let mut query = url.query().unwrap_or("").to_string();
    let mut added = false;
    for (name, pieces) in &template.params {
        if present.iter().any(|k| k == name) {
            continue;
        }
        if !query.is_empty() && !query.ends_with('&') {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        for piece in pieces {
            match piece {
                Piece::Text(text) => query.push_str(text),
                Piece::Platform => match platform {
                    Some(platform) => query.extend(utf8_percent_encode(platform.slug(), VALUE)),
                    None => query.push_str(PLATFORM_PLACEHOLDER),
                },
                Piece::PostSlug => query.extend(utf8_percent_encode(slug, VALUE)),
            }
        }
        added = true;
    }
    if added {
        url.set_query(Some(&query));
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn default_tags() -> LinkTags {
        LinkTags::on(UtmTemplate::default())
    }

    #[test]
    fn a_link_that_holds_the_placeholder_has_no_pattern() {
        let link = "https://example.com/?q={platform}";
        assert_eq!(default_tags().link_pattern(link, "Report"), None);
        assert_eq!(
            default_tags()
                .link_pattern("https://example.com/news", "Annual report")
                .as_deref(),
            Some(
                "https://example.com/news?utm_source={platform}\
                 &utm_medium=employee_advocacy&utm_campaign=annual-report"
            )
        );
    }

    #[test]
    fn the_default_tags_name_the_platform_the_medium_and_the_post() {
        assert_eq!(
            default_tags().link_for(
                "https://example.com/news/report",
                Platform::LinkedIn,
                "Annual report 2026"
            ),
            "https://example.com/news/report?utm_source=linkedin\
             &utm_medium=employee_advocacy&utm_campaign=annual-report-2026"
        );
    }

    #[test]
    fn tags_follow_the_links_own_parameters_and_precede_its_fragment() {
        assert_eq!(
            default_tags().link_for("https://example.com/a?b=1&c=d%20e#part-2", Platform::X, "T"),
            "https://example.com/a?b=1&c=d%20e&utm_source=x\
             &utm_medium=employee_advocacy&utm_campaign=t#part-2"
        );
        assert_eq!(
            default_tags().link_for("https://example.com/?", Platform::X, "T"),
            "https://example.com/?utm_source=x&utm_medium=employee_advocacy&utm_campaign=t"
        );
        assert_eq!(
            default_tags().link_for("https://example.com/?a=1&", Platform::X, "T"),
            "https://example.com/?a=1&utm_source=x&utm_medium=employee_advocacy&utm_campaign=t"
        );
    }

    #[test]
    fn a_parameter_the_link_already_has_keeps_its_own_value() {
        assert_eq!(
            default_tags().link_for(
                "https://example.com/?utm_campaign=spring&utm_source=newsletter",
                Platform::Bluesky,
                "Launch"
            ),
            "https://example.com/?utm_campaign=spring&utm_source=newsletter\
             &utm_medium=employee_advocacy"
        );
    }

    #[test]
    fn tagging_off_leaves_the_link_as_it_is() {
        let link = "https://example.com/a?b=1#c";
        assert_eq!(LinkTags::off().link_for(link, Platform::X, "T"), link);
        assert_eq!(
            LinkTags::from_settings(false, DEFAULT_TEMPLATE).link_for(link, Platform::X, "T"),
            link
        );
    }

    #[test]
    fn x_and_mastodon_weigh_a_tagged_link_23_and_bluesky_counts_it_in_full() {
        let link = "https://example.com/news/report?ref=home#top";
        let tagged = default_tags().link_for(link, Platform::X, "Annual report 2026 – ünïcode");
        assert!(
            tagged.contains("utm_campaign=annual-report-2026-unicode#top"),
            "{tagged}"
        );
        for platform in [Platform::X, Platform::Mastodon] {
            assert_eq!(
                platform.count_with_link("Hi", &tagged),
                2 + 1 + 23,
                "{platform:?}"
            );
        }
        let bluesky = default_tags().link_for(link, Platform::Bluesky, "T");
        assert_eq!(
            Platform::Bluesky.count_with_link("Hi", &bluesky),
            2 + 1 + bluesky.chars().count()
        );
        assert_eq!(Platform::LinkedIn.count_with_link("Hi", &tagged), 2);
    }

    #[test]
    fn slugs_are_lower_case_words_without_accents() {
        assert_eq!(post_slug("Annual Report 2026!"), "annual-report-2026");
        assert_eq!(post_slug("  Café au lait — Zürich "), "cafe-au-lait-zurich");
        assert_eq!(post_slug("Ünïcödé & ß"), "unicode-ß");
        assert_eq!(post_slug("日本語 ニュース"), "日本語-ニュース");
        assert_eq!(post_slug("!!!"), "post");
        assert_eq!(post_slug(&"word ".repeat(40)).chars().count(), 59);
        assert!(!post_slug(&"ab ".repeat(40)).ends_with('-'));
    }

    #[test]
    fn a_slug_outside_ascii_is_percent_encoded_in_the_link() {
        assert_eq!(
            default_tags().link_for("https://example.com/", Platform::X, "日本"),
            "https://example.com/?utm_source=x&utm_medium=employee_advocacy\
             &utm_campaign=%E6%97%A5%E6%9C%AC"
        );
    }

    #[test]
    fn templates_with_only_known_placeholders_and_safe_values_are_accepted() {
        for ok in [
            DEFAULT_TEMPLATE,
            "?mtm_source={platform}&mtm_campaign=adv-{post_slug}",
            "pk_campaign=employee%20advocacy",
            "a=1&&b=2",
        ] {
            assert!(UtmTemplate::parse(ok).is_ok(), "{ok}");
        }
        let names: Vec<String> = UtmTemplate::parse("a=1&b={platform}")
            .unwrap()
            .names()
            .map(str::to_string)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn templates_are_refused_with_a_message_that_names_the_problem() {
        let cases = [
            ("", "Enter the tags to add"),
            ("utm_source={author}", "{author} is not a placeholder"),
            ("utm_source={user_id}", "{user_id} is not a placeholder"),
            ("utm_source={platform", "has no closing"),
            ("utm_source=platform}", "has no opening"),
            ("utm_source", "needs a value"),
            ("utm_source=", "Give utm_source a value"),
            ("=x", "is not a parameter name"),
            ("utm source=x", "is not a parameter name"),
            ("a=1&a=2", "appears twice"),
            ("a=b c", "not “ ”"),
            ("a=b#c", "not “#”"),
            ("a=b%2", "escape of two hex digits"),
            ("a=b%zz", "escape of two hex digits"),
        ];
        for (input, message) in cases {
            let refused = UtmTemplate::parse(input).expect_err(input);
            assert!(refused.0.contains(message), "{input}: {}", refused.0);
        }
        let long = format!("a={}", "b".repeat(600));
        assert!(
            UtmTemplate::parse(&long)
                .unwrap_err()
                .0
                .contains("at most 500")
        );
    }

    fn query_value() -> impl Strategy<Value = String> {
        // Anything people put in a value, escaped as a browser would.
        any::<String>()
            .prop_map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
    }

    fn link() -> impl Strategy<Value = (String, Vec<(String, String)>, Option<String>)> {
        (
            prop_oneof!["http", "https"],
            "[a-z][a-z0-9-]{0,10}\\.(com|org|de|co\\.uk)",
            prop::collection::vec("[A-Za-z0-9._~-]{1,8}", 0..4),
            prop::collection::vec(("[a-z_]{1,10}", query_value()), 0..5),
            prop::option::of("[A-Za-z0-9/?:@._~!$'()*+,;=-]{0,12}"),
        )
            .prop_map(|(scheme, host, segments, pairs, fragment)| {
                let mut link = format!("{scheme}://{host}/{}", segments.join("/"));
                if !pairs.is_empty() {
                    let query: Vec<String> =
                        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    link.push('?');
                    link.push_str(&query.join("&"));
                }
                if let Some(f) = &fragment {
                    link.push('#');
                    link.push_str(f);
                }
                (link, pairs, fragment)
            })
    }

    proptest! {
        #[test]
        fn any_link_with_tags_stays_a_url_with_its_parameters_in_order_and_its_fragment(
            (link, pairs, fragment) in link(),
            platform in prop::sample::select(Platform::ALL.to_vec()),
            title in any::<String>(),
        ) {
            let original = Url::parse(&link).unwrap();
            let tagged = default_tags().link_for(&link, platform, &title);
            let parsed = Url::parse(&tagged).expect("a tagged link is a URL");
            prop_assert_eq!(parsed.as_str(), tagged.as_str(), "serialised as the url crate would");
            prop_assert_eq!(parsed.host_str(), original.host_str());
            prop_assert_eq!(parsed.path(), original.path());
            prop_assert_eq!(parsed.fragment(), original.fragment());
            prop_assert_eq!(parsed.fragment().map(str::to_string), fragment.clone());
            let before: Vec<(String, String)> = original.query_pairs().into_owned().collect();
            let after: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
            prop_assert_eq!(&after[..before.len()], &before[..], "own parameters first, in order");
            prop_assert_eq!(before.len(), pairs.len());
            // The raw query is kept byte for byte before the tags.
            if let Some(query) = original.query().filter(|q| !q.is_empty()) {
                prop_assert!(parsed.query().unwrap().starts_with(query));
            }
            for name in ["utm_source", "utm_medium", "utm_campaign"] {
                let count = after.iter().filter(|(k, _)| k == name).count();
                prop_assert_eq!(count, 1, "{} once", name);
            }
            let own_source = before.iter().find(|(k, _)| k == "utm_source").map(|(_, v)| v.clone());
            let source = after.iter().find(|(k, _)| k == "utm_source").map(|(_, v)| v.clone());
            prop_assert_eq!(source, own_source.or(Some(platform.slug().to_string())));
        }

        #[test]
        fn x_and_mastodon_weigh_any_tagged_link_23(
            (link, _, _) in link(),
            title in any::<String>(),
        ) {
            let bare = link.split('#').next().unwrap_or_default();
            for platform in [Platform::X, Platform::Mastodon] {
                let tagged = default_tags().link_for(bare, platform, &title);
                prop_assert_eq!(platform.count_with_link("Hi", &tagged), 2 + 1 + 23, "{}", tagged);
            }
        }

        #[test]
        fn the_link_pattern_gives_each_platforms_link_once_its_slug_is_in(
            link in prop_oneof![link().prop_map(|(link, _, _)| link), any::<String>()],
            title in any::<String>(),
            template in prop_oneof![
                Just(DEFAULT_TEMPLATE),
                Just("src={platform}&via={platform}-{post_slug}"),
                Just("medium=advocacy"),
            ],
            enabled in any::<bool>(),
        ) {
            let tags = LinkTags::from_settings(enabled, template);
            match tags.link_pattern(&link, &title) {
                Some(pattern) => {
                    for platform in Platform::ALL {
                        prop_assert_eq!(
                            pattern.replace(PLATFORM_PLACEHOLDER, platform.slug()),
                            tags.link_for(&link, platform, &title)
                        );
                    }
                }
                None => prop_assert!(link.contains(PLATFORM_PLACEHOLDER)),
            }
        }

        #[test]
        fn a_link_already_carrying_every_tag_is_only_normalised(
            (link, _, _) in link(),
        ) {
            let tagged_once = default_tags().link_for(&link, Platform::X, "Report");
            let tagged_twice = default_tags().link_for(&tagged_once, Platform::X, "Report");
            prop_assert_eq!(tagged_once, tagged_twice);
        }

        #[test]
        fn slugs_never_hold_separators_that_would_break_a_parameter(title in any::<String>()) {
            let slug = post_slug(&title);
            prop_assert!(!slug.is_empty() && slug.chars().count() <= MAX_SLUG_CHARS);
            prop_assert!(slug.chars().all(|c| c.is_alphanumeric() || c == '-'));
            prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'));
        }
    }
}
