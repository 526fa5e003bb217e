//! The platforms an employee can reshare to: names, text limits, how each one
//! counts text, and the links that open each platform's own share dialog.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use super::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    LinkedIn,
    X,
    Facebook,
    Mastodon,
    Bluesky,
    Threads,
    Xing,
    Reddit,
}

/// How a platform measures the length of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counting {
    /// twitter-text v3: NFC, light and heavy characters, emoji 2, every link 23.
    Weighted,
    /// Extended grapheme clusters, as Bluesky's app counts them.
    Graphemes,
    /// Unicode scalar values, with every link counted as 23 characters.
    /// Mastodon's server counts grapheme clusters, of which there are never
    /// more than scalar values: this count errs on the long side only.
    CharactersUrlsAs23,
    /// Unicode scalar values.
    Characters,
}

/// What an employee shares: their caption, the company's link, a title (only
/// Reddit uses it) and, for Mastodon, the employee's own server.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub text: &'a str,
    pub url: &'a str,
    pub title: &'a str,
    pub instance: Option<&'a InstanceHost>,
}

/// The host name of an employee's Mastodon server, lower-cased ASCII
/// (internationalised names in punycode).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceHost(String);

/// Every link counts as this many characters on X (twitter-text v3
/// `transformedURLLength`: t.co wraps every link) and on Mastodon
/// (`StatusLengthValidator::URL_PLACEHOLDER_CHARS`).
const URL_LENGTH: usize = 23;

impl Platform {
    pub const ALL: [Platform; 8] = [
        Platform::LinkedIn,
        Platform::X,
        Platform::Facebook,
        Platform::Mastodon,
        Platform::Bluesky,
        Platform::Threads,
        Platform::Xing,
        Platform::Reddit,
    ];

    /// Stable identifier used in URLs and in the database: never change one.
    pub fn slug(self) -> &'static str {
        match self {
            Platform::LinkedIn => "linkedin",
            Platform::X => "x",
            Platform::Facebook => "facebook",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::Threads => "threads",
            Platform::Xing => "xing",
            Platform::Reddit => "reddit",
        }
    }

    pub fn from_slug(s: &str) -> Option<Platform> {
        Platform::ALL
            .into_iter()
            .find(|platform| platform.slug() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::LinkedIn => "LinkedIn",
            Platform::X => "X",
            Platform::Facebook => "Facebook",
            Platform::Mastodon => "Mastodon",
            Platform::Bluesky => "Bluesky",
            Platform::Threads => "Threads",
            Platform::Xing => "XING",
            Platform::Reddit => "Reddit",
        }
    }

    /// Longest text the platform accepts, in its own [`Counting`].
    pub fn text_limit(self) -> usize {
        match self {
            // twitter-text v3 `maxWeightedTweetLength` (non-subscribers).
            Platform::X => 280,
            // Bluesky's app.bsky.feed.post lexicon: `maxGraphemes` 300.
            Platform::Bluesky => 300,
            // Mastodon's default `StatusLengthValidator::MAX_CHARS`; each
            // server may set its own (its /api/v2/instance tells which).
            Platform::Mastodon => 500,
            // Threads' limit for the text of a post.
            Platform::Threads => 500,
            // LinkedIn's limit for the text of a member's post.
            Platform::LinkedIn => 3000,
            // Facebook's documented maximum for a post.
            Platform::Facebook => 63_206,
            // XING publishes no limit; assumed to match LinkedIn's.
            Platform::Xing => 3000,
            // Reddit's limit on a post title, the only text we prefill there.
            Platform::Reddit => 300,
        }
    }

    pub fn counting(self) -> Counting {
        match self {
            Platform::X => Counting::Weighted,
            Platform::Bluesky => Counting::Graphemes,
            Platform::Mastodon => Counting::CharactersUrlsAs23,
            Platform::LinkedIn
            | Platform::Facebook
            | Platform::Threads
            | Platform::Xing
            | Platform::Reddit => Counting::Characters,
        }
    }

    /// Whether the share dialog can be opened with the caption filled in.
    /// LinkedIn's share-offsite, Facebook's sharer and XING's share dialog
    /// take only a URL, so there the employee pastes the caption themselves.
    pub fn accepts_prefilled_text(self) -> bool {
        match self {
            Platform::LinkedIn | Platform::Facebook | Platform::Xing => false,
            Platform::X
            | Platform::Mastodon
            | Platform::Bluesky
            | Platform::Threads
            | Platform::Reddit => true,
        }
    }

    /// Whether the link is part of the post's text once the dialog opens
    /// (X and Threads append it, Mastodon and Bluesky get it in the text):
    /// elsewhere it becomes a card of its own, or Reddit's link field.
    pub fn link_in_text(self) -> bool {
        matches!(
            self,
            Platform::X | Platform::Threads | Platform::Mastodon | Platform::Bluesky
        )
    }

    /// Mastodon has no central site: the share dialog lives on the
    /// employee's own server.
    pub fn needs_instance(self) -> bool {
        self == Platform::Mastodon
    }

    /// Length of `text` as the platform counts it (text as the employee would
    /// post it, with the link inside the text where the platform needs that).
    pub fn count(self, text: &str) -> usize {
        self.counting().count(text)
    }

    /// Length of what the share dialog will hold once it opens with `caption`
    /// and `url`:
    /// - X, Threads: the dialog appends the link to the text after a space,
    ///   so this counts "caption url" (on X the link weighs 23).
    /// - Mastodon, Bluesky: we put the link into the text ourselves, the same
    ///   way, so the same joined text is counted.
    /// - LinkedIn, Facebook, XING: the link becomes a preview card, not text,
    ///   so only the caption the employee will paste is counted.
    /// - Reddit: the caption is the post title and the link has a field of
    ///   its own, so only the caption is counted.
    ///
    /// The link is counted in the form [`Platform::share_url`] sends it.
    pub fn count_with_link(self, caption: &str, url: &str) -> usize {
        match self {
            Platform::X | Platform::Threads => {
                let link = normalized_link(url).unwrap_or_else(|_| url.trim().to_string());
                if caption.is_empty() {
                    self.count(&link)
                } else {
                    self.count(&format!("{caption} {link}"))
                }
            }
            Platform::Mastodon | Platform::Bluesky => {
                let link = normalized_link(url).unwrap_or_else(|_| url.trim().to_string());
                self.count(&caption_and_link(caption, &link))
            }
            Platform::LinkedIn | Platform::Facebook | Platform::Xing | Platform::Reddit => {
                self.count(caption)
            }
        }
    }

    /// The address that opens the platform's share dialog with the share
    /// filled in. Text is never shortened here: compare [`Platform::count`]
    /// with [`Platform::text_limit`] to warn about length.
    pub fn share_url(self, share: &Share<'_>) -> Result<String, Invalid> {
        let link = normalized_link(share.url)?;
        let link = link.as_str();
        let url = match self {
            Platform::X => with_query(
                "https://twitter.com/intent/tweet",
                &[("text", share.text), ("url", link)],
            ),
            Platform::LinkedIn => with_query(
                "https://www.linkedin.com/sharing/share-offsite/",
                &[("url", link)],
            ),
            Platform::Facebook => {
                with_query("https://www.facebook.com/sharer/sharer.php", &[("u", link)])
            }
            Platform::Mastodon => {
                let Some(instance) = share.instance else {
                    return Err(Invalid::new(
                        "Enter the address of your Mastodon server to share there.",
                    ));
                };
                with_query(
                    &format!("https://{}/share", instance.as_str()),
                    &[("text", &caption_and_link(share.text, link))],
                )
            }
            Platform::Bluesky => with_query(
                "https://bsky.app/intent/compose",
                &[("text", &caption_and_link(share.text, link))],
            ),
            Platform::Threads => with_query(
                "https://www.threads.net/intent/post",
                &[("text", share.text), ("url", link)],
            ),
            Platform::Xing => with_query("https://www.xing.com/spi/shares/new", &[("url", link)]),
            Platform::Reddit => with_query(
                "https://www.reddit.com/submit",
                &[("url", link), ("title", share.title)],
            ),
        };
        Ok(url)
    }
}

impl Counting {
    pub fn count(self, text: &str) -> usize {
        match self {
            Counting::Weighted => weighted_length(text),
            Counting::Graphemes => text.graphemes(true).count(),
            Counting::CharactersUrlsAs23 => {
                let mut total = 0;
                let mut rest = 0;
                for link in link_ranges(text) {
                    total += text[rest..link.start].chars().count() + URL_LENGTH;
                    rest = link.end;
                }
                total + text[rest..].chars().count()
            }
            Counting::Characters => text.chars().count(),
        }
    }
}

impl InstanceHost {
    /// Accepts what people type or paste: "mastodon.social",
    /// " Mastodon.Social ", "https://mastodon.social/". Refuses anything
    /// that is more than a host name (a path, a port, a handle), because
    /// guessing what was meant could send the employee to the wrong server.
    pub fn parse(input: &str) -> Result<InstanceHost, Invalid> {
        let input = input.trim();
        if input.is_empty() {
            return Err(Invalid::new(
                "Enter the address of your Mastodon server, like mastodon.social.",
            ));
        }
        let host = strip_prefix_ignore_case(input, "https://")
            .or_else(|| strip_prefix_ignore_case(input, "http://"))
            .unwrap_or(input);
        let host = host.strip_suffix('/').unwrap_or(host);
        let not_a_host =
            || Invalid::new("This is not a server address. Enter one like mastodon.social.");
        if host.contains("://") {
            return Err(not_a_host());
        }
        if host.contains(['/', '\\', '?', '#']) {
            return Err(Invalid::new(
                "Enter only the address of your Mastodon server, like mastodon.social, \
                 without anything after it.",
            ));
        }
        if host.contains('@') {
            return Err(Invalid::new(
                "Enter the address of your Mastodon server, like mastodon.social, \
                 not your @name@server handle.",
            ));
        }
        if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
            return Err(Invalid::new(
                "Enter the name of your Mastodon server, like mastodon.social, \
                 not an IP address.",
            ));
        }
        if host.contains(':') {
            return Err(Invalid::new(
                "Enter the address of your Mastodon server without a port number, \
                 like mastodon.social.",
            ));
        }
        if host.chars().any(char::is_whitespace) {
            return Err(not_a_host());
        }
        // The WHATWG host parser lower-cases, turns internationalised names
        // into punycode (UTS #46) and recognises every spelling of an IPv4
        // address (such as 0x7f.1), which `IpAddr` alone would let through.
        let ascii = match url::Host::parse(host) {
            Ok(url::Host::Domain(domain)) => domain,
            Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                return Err(Invalid::new(
                    "Enter the name of your Mastodon server, like mastodon.social, \
                     not an IP address.",
                ));
            }
            Err(_) => return Err(not_a_host()),
        };
        if ascii == "localhost" || ascii.ends_with(".localhost") {
            return Err(Invalid::new(
                "Enter the address of a public Mastodon server, like mastodon.social.",
            ));
        }
        // RFC 1035 §2.3.4 and RFC 1123 §2.1: at most 253 characters written
        // out, labels of 1 to 63 letters, digits and hyphens, no hyphen at
        // either end. Two labels at least: a public server has a domain.
        if ascii.len() > 253 {
            return Err(Invalid::new("A server address has at most 253 characters."));
        }
        let labels_ok = ascii.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
        if !labels_ok || !ascii.contains('.') {
            return Err(not_a_host());
        }
        Ok(InstanceHost(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn strip_prefix_ignore_case<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
}

/// The link to share, checked and in the form the url crate writes it (host
/// lower-cased and in punycode, spaces and other non-URL characters
/// percent-encoded), so that a platform always sees one unbroken link.
fn normalized_link(input: &str) -> Result<String, Invalid> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Invalid::new("Enter the link to share."));
    }
    let Ok(link) = Url::parse(input) else {
        return Err(Invalid::new(
            "Enter the full link to share, starting with https://.",
        ));
    };
    // Anything else (javascript:, data:, file:…) is no page to share, and
    // some schemes would run in the share dialog's origin.
    if !matches!(link.scheme(), "https" | "http") {
        return Err(Invalid::new(
            "A link to share must start with https:// or http://.",
        ));
    }
    if !link.username().is_empty() || link.password().is_some() {
        return Err(Invalid::new(
            "A link to share must not contain a user name or password.",
        ));
    }
    Ok(link.into())
}

/// Caption and link as one text for the platforms that take only a text:
/// a space between them, unless the caption is empty or already ends in
/// whitespace (a caption ending in a line break puts the link on its own line).
fn caption_and_link(caption: &str, link: &str) -> String {
    if caption.is_empty() || caption.ends_with(char::is_whitespace) {
        format!("{caption}{link}")
    } else {
        format!("{caption} {link}")
    }
}

/// `base?name=value&…`, skipping empty values so that an empty caption or
/// title leaves the dialog's field empty rather than sending `text=`.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = base.to_string();
    let mut separator = '?';
    for (name, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
        url.push(separator);
        url.push_str(name);
        url.push('=');
        percent_encode_into(value, &mut url);
        separator = '&';
    }
    url
}

/// RFC 3986 §2.3: only unreserved characters stay as they are. Encoding
/// everything else (space as %20, never "+") means every platform decodes
/// the same text, whether it reads the query as form data or not.
fn percent_encode_into(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

/// twitter-text v3 weighted length (config v3: scale 100, default weight
/// 200, emoji parsing on, transformed URL length 23), divided by the scale.
fn weighted_length(text: &str) -> usize {
    // twitter-text normalises to NFC first, so "e" + U+0301 counts as "é".
    let text: String = text.nfc().collect();
    let mut total = 0;
    let mut rest = 0;
    for link in link_ranges(&text) {
        total += weighted_plain(&text[rest..link.start]) + URL_LENGTH;
        rest = link.end;
    }
    total + weighted_plain(&text[rest..])
}

fn weighted_plain(text: &str) -> usize {
    text.graphemes(true)
        .map(|cluster| {
            if is_emoji_sequence(cluster) {
                2
            } else {
                cluster.chars().map(character_weight).sum()
            }
        })
        .sum()
}

/// twitter-text v3 `ranges`: these code points weigh 100 (count 1), all
/// others the default 200 (count 2), so CJK, for one, counts double.
fn character_weight(c: char) -> usize {
    match u32::from(c) {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

/// Whether a grapheme cluster of several code points is one emoji, which
/// twitter-text counts as 2 (the default weight) however many code points it
/// has: ZWJ sequences, flags, skin tones, keycaps, VS16 presentation. A single
/// code point is left to `character_weight`, which already gives pictographs
/// 2 and leaves © and ® at 1, as twitter-text does without VS16. Clusters
/// that ask for text presentation (VS15) are no emoji for twitter-text.
fn is_emoji_sequence(cluster: &str) -> bool {
    let mut chars = cluster.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let rest = chars.as_str();
    if rest.is_empty() || rest.contains('\u{FE0E}') {
        return false;
    }
    if matches!(first, '0'..='9' | '#' | '*') {
        return rest.ends_with('\u{20E3}')
            && rest.chars().all(|c| matches!(c, '\u{FE0F}' | '\u{20E3}'));
    }
    let starts_emoji = is_pictographic(first) || is_regional_indicator(first);
    starts_emoji && rest.chars().all(is_emoji_component)
}

/// What may follow the first code point of an emoji sequence: VS16, ZWJ,
/// the keycap mark, skin tone modifiers, tags (as in the flag of Scotland),
/// regional indicators and further pictographs.
fn is_emoji_component(c: char) -> bool {
    matches!(c, '\u{FE0F}' | '\u{200D}' | '\u{20E3}')
        || matches!(c, '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
        || is_regional_indicator(c)
        || is_pictographic(c)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c, '\u{1F1E6}'..='\u{1F1FF}')
}

/// A close approximation of Unicode's Extended_Pictographic property: the
/// code points that can start an emoji sequence.
fn is_pictographic(c: char) -> bool {
    matches!(c,
        '\u{A9}' | '\u{AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
        | '\u{2194}'..='\u{2199}' | '\u{21A9}'..='\u{21AA}'
        | '\u{231A}'..='\u{231B}' | '\u{2328}' | '\u{2388}' | '\u{23CF}'
        | '\u{23E9}'..='\u{23F3}' | '\u{23F8}'..='\u{23FA}'
        | '\u{24C2}' | '\u{25AA}'..='\u{25AB}' | '\u{25B6}' | '\u{25C0}'
        | '\u{25FB}'..='\u{25FE}' | '\u{2600}'..='\u{27BF}'
        | '\u{2934}'..='\u{2935}' | '\u{2B05}'..='\u{2B07}' | '\u{2B1B}'..='\u{2B1C}'
        | '\u{2B50}' | '\u{2B55}' | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
        | '\u{1F000}'..='\u{1FAFF}' | '\u{1FC00}'..='\u{1FFFD}')
}

/// Byte ranges of the links in `text` that X and Mastodon count as 23: an
/// http:// or https:// link the way twitter-text's extractor finds one
/// (Mastodon uses the same extractor, without links lacking a scheme). It
/// starts after a character that is not an ASCII letter or digit, @, $ or
/// #, has a host with a dot and a top-level domain of letters, and ends before
/// whitespace, before characters links cannot hold (CJK, quotes, < >) and
/// before trailing punctuation such as "." or ")" closing a sentence.
/// Where this differs from twitter-text it finds fewer links, so counts
/// come out too long rather than too short.
fn link_ranges(text: &str) -> Vec<Range<usize>> {
    let mut links = Vec::new();
    let mut from = 0;
    while let Some(offset) = find_ignore_ascii_case(&text[from..], "http") {
        let start = from + offset;
        match link_end(text, start) {
            Some(end) => {
                links.push(start..end);
                from = end;
            }
            // "http" is ASCII, so start + 4 is a character boundary.
            None => from = start + 4,
        }
    }
    links
}

fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn link_end(text: &str, start: usize) -> Option<usize> {
    if let Some(before) = text[..start].chars().next_back() {
        // twitter-text `validUrlPrecedingChars`.
        if before.is_ascii_alphanumeric()
            || matches!(
                before,
                '@' | '＠' | '$' | '#' | '＃' | '\u{202A}'..='\u{202E}'
            )
        {
            return None;
        }
    }
    let after = &text[start..];
    let scheme_len = ["https://", "http://"]
        .into_iter()
        .find(|scheme| strip_prefix_ignore_case(after, scheme).is_some())?
        .len();
    let host_start = start + scheme_len;
    let host_len = text[host_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        .unwrap_or(text.len() - host_start);
    let mut end = host_start + host_len;
    if let Some(port) = text[end..].strip_prefix(':') {
        let digits = port
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(port.len());
        if digits > 0 {
            end += 1 + digits;
        }
    }
    if text[end..].starts_with(['/', '?', '#']) {
        let rest = &text[end..];
        end += rest.find(|c| !is_link_char(c)).unwrap_or(rest.len());
    }
    while let Some(last) = text[host_start..end].chars().next_back() {
        if is_link_ending(last, &text[start..end]) {
            break;
        }
        end -= last.len_utf8();
    }
    let host = &text[host_start..end.min(host_start + host_len)];
    let labels_ok = host.split('.').all(|label| !label.is_empty());
    let tld = host.rsplit('.').next().unwrap_or("");
    let tld_ok =
        tld.len() >= 2 && (tld.bytes().all(|b| b.is_ascii_alphabetic()) || tld.starts_with("xn--"));
    (host.contains('.') && labels_ok && tld_ok).then_some(end)
}

/// twitter-text `validGeneralUrlPathChars` and `validUrlQueryChars`: ASCII
/// but for quotes, < > \ ^ ` { }, plus accented Latin and Cyrillic letters.
fn is_link_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '}')
    } else {
        is_link_letter(c) || c == '\u{2013}'
    }
}

fn is_link_letter(c: char) -> bool {
    matches!(c,
        '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{24F}'
        | '\u{300}'..='\u{36F}' | '\u{400}'..='\u{4FF}' | '\u{1E00}'..='\u{1EFF}')
}

/// twitter-text `validUrlPathEndingChars` and `validUrlQueryEndingChars`:
/// a link ends on a letter, digit, + - = _ # / &, or on a ")" that closes
/// a "(" inside it.
fn is_link_ending(last: char, link: &str) -> bool {
    last.is_ascii_alphanumeric()
        || is_link_letter(last)
        || matches!(last, '+' | '-' | '=' | '_' | '#' | '/' | '&')
        || (last == ')' && link.matches('(').count() >= link.matches(')').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTION: &str = "We're hiring! 👩‍💻 🇩🇪 👍🏽 R&D #jobs 1+1=2? 日本語 Ελληνικά العربية";
    const LINK: &str = "https://example.com/a?b=1&c=2#frag";
    const TITLE: &str = "Ελληνικά & 日本語: what's new? #1";
    // Percent-encoded independently (Python's urllib.parse.quote, safe='').
    const CAPTION_ENCODED: &str = "We%27re%20hiring%21%20%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB%20\
        %F0%9F%87%A9%F0%9F%87%AA%20%F0%9F%91%8D%F0%9F%8F%BD%20R%26D%20%23jobs%201%2B1%3D2%3F%20\
        %E6%97%A5%E6%9C%AC%E8%AA%9E%20%CE%95%CE%BB%CE%BB%CE%B7%CE%BD%CE%B9%CE%BA%CE%AC%20\
        %D8%A7%D9%84%D8%B9%D8%B1%D8%A8%D9%8A%D8%A9";
    const LINK_ENCODED: &str = "https%3A%2F%2Fexample.com%2Fa%3Fb%3D1%26c%3D2%23frag";
    const TITLE_ENCODED: &str = "%CE%95%CE%BB%CE%BB%CE%B7%CE%BD%CE%B9%CE%BA%CE%AC%20%26%20\
        %E6%97%A5%E6%9C%AC%E8%AA%9E%3A%20what%27s%20new%3F%20%231";

    fn mastodon_social() -> InstanceHost {
        InstanceHost::parse("mastodon.social").unwrap()
    }

    fn share_url(platform: Platform, text: &str, url: &str, title: &str) -> String {
        let instance = mastodon_social();
        let share = Share {
            text,
            url,
            title,
            instance: Some(&instance),
        };
        platform.share_url(&share).unwrap()
    }

    #[test]
    fn every_platform_has_a_unique_slug_that_round_trips() {
        let slugs: Vec<&str> = Platform::ALL.iter().map(|p| p.slug()).collect();
        assert_eq!(
            slugs,
            [
                "linkedin", "x", "facebook", "mastodon", "bluesky", "threads", "xing", "reddit"
            ]
        );
        let mut unique = slugs.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), Platform::ALL.len());
        for platform in Platform::ALL {
            assert_eq!(Platform::from_slug(platform.slug()), Some(platform));
        }
        assert_eq!(Platform::from_slug("twitter"), None);
        assert_eq!(Platform::from_slug("LinkedIn"), None);
        assert_eq!(Platform::from_slug(""), None);
    }

    #[test]
    fn names_limits_and_capabilities_are_those_of_each_platform() {
        let table: Vec<(&str, usize, Counting, bool, bool)> = Platform::ALL
            .iter()
            .map(|&p| {
                (
                    p.name(),
                    p.text_limit(),
                    p.counting(),
                    p.accepts_prefilled_text(),
                    p.needs_instance(),
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                ("LinkedIn", 3000, Counting::Characters, false, false),
                ("X", 280, Counting::Weighted, true, false),
                ("Facebook", 63_206, Counting::Characters, false, false),
                ("Mastodon", 500, Counting::CharactersUrlsAs23, true, true),
                ("Bluesky", 300, Counting::Graphemes, true, false),
                ("Threads", 500, Counting::Characters, true, false),
                ("XING", 3000, Counting::Characters, false, false),
                ("Reddit", 300, Counting::Characters, true, false),
            ]
        );
    }

    #[test]
    fn x_share_url_carries_text_and_link_encoded_separately() {
        assert_eq!(
            share_url(Platform::X, CAPTION, LINK, TITLE),
            format!("https://twitter.com/intent/tweet?text={CAPTION_ENCODED}&url={LINK_ENCODED}")
        );
    }

    #[test]
    fn linkedin_share_url_carries_only_the_link() {
        assert_eq!(
            share_url(Platform::LinkedIn, CAPTION, LINK, TITLE),
            format!("https://www.linkedin.com/sharing/share-offsite/?url={LINK_ENCODED}")
        );
    }

    #[test]
    fn facebook_share_url_carries_only_the_link() {
        assert_eq!(
            share_url(Platform::Facebook, CAPTION, LINK, TITLE),
            format!("https://www.facebook.com/sharer/sharer.php?u={LINK_ENCODED}")
        );
    }

    #[test]
    fn mastodon_share_url_opens_the_employees_own_server_with_link_in_the_text() {
        assert_eq!(
            share_url(Platform::Mastodon, CAPTION, LINK, TITLE),
            format!("https://mastodon.social/share?text={CAPTION_ENCODED}%20{LINK_ENCODED}")
        );
    }

    #[test]
    fn mastodon_share_url_is_refused_without_a_server() {
        let share = Share {
            text: CAPTION,
            url: LINK,
            title: TITLE,
            instance: None,
        };
        assert_eq!(
            Platform::Mastodon.share_url(&share),
            Err(Invalid::new(
                "Enter the address of your Mastodon server to share there."
            ))
        );
    }

    #[test]
    fn bluesky_share_url_puts_the_link_in_the_text() {
        assert_eq!(
            share_url(Platform::Bluesky, CAPTION, LINK, TITLE),
            format!("https://bsky.app/intent/compose?text={CAPTION_ENCODED}%20{LINK_ENCODED}")
        );
    }

    #[test]
    fn threads_share_url_carries_text_and_link_encoded_separately() {
        assert_eq!(
            share_url(Platform::Threads, CAPTION, LINK, TITLE),
            format!(
                "https://www.threads.net/intent/post?text={CAPTION_ENCODED}&url={LINK_ENCODED}"
            )
        );
    }

    #[test]
    fn xing_share_url_carries_only_the_link() {
        assert_eq!(
            share_url(Platform::Xing, CAPTION, LINK, TITLE),
            format!("https://www.xing.com/spi/shares/new?url={LINK_ENCODED}")
        );
    }

    #[test]
    fn reddit_share_url_carries_the_link_and_the_title() {
        assert_eq!(
            share_url(Platform::Reddit, CAPTION, LINK, TITLE),
            format!("https://www.reddit.com/submit?url={LINK_ENCODED}&title={TITLE_ENCODED}")
        );
    }

    #[test]
    fn an_empty_caption_or_title_leaves_the_field_out_and_no_stray_space() {
        let link = "https://example.com/";
        let encoded = "https%3A%2F%2Fexample.com%2F";
        assert_eq!(
            share_url(Platform::X, "", link, ""),
            format!("https://twitter.com/intent/tweet?url={encoded}")
        );
        assert_eq!(
            share_url(Platform::Threads, "", link, ""),
            format!("https://www.threads.net/intent/post?url={encoded}")
        );
        assert_eq!(
            share_url(Platform::Mastodon, "", link, ""),
            format!("https://mastodon.social/share?text={encoded}")
        );
        assert_eq!(
            share_url(Platform::Bluesky, "", link, ""),
            format!("https://bsky.app/intent/compose?text={encoded}")
        );
        assert_eq!(
            share_url(Platform::Reddit, "", link, ""),
            format!("https://www.reddit.com/submit?url={encoded}")
        );
    }

    #[test]
    fn very_long_text_is_never_shortened_and_its_count_exceeds_the_limit() {
        // Longer than even Facebook's limit.
        let text = "Ab ".repeat(25_000);
        let encoded = "Ab%20".repeat(25_000);
        assert_eq!(
            share_url(Platform::X, &text, "https://example.com/", ""),
            format!(
                "https://twitter.com/intent/tweet?text={encoded}&url=https%3A%2F%2Fexample.com%2F"
            )
        );
        assert_eq!(
            share_url(Platform::Bluesky, &text, "https://example.com/", ""),
            format!("https://bsky.app/intent/compose?text={encoded}https%3A%2F%2Fexample.com%2F")
        );
        for platform in Platform::ALL {
            assert_eq!(platform.count(&text), 75_000, "{}", platform.name());
            assert!(platform.count(&text) > platform.text_limit());
        }
    }

    #[test]
    fn links_are_sent_in_normalised_form() {
        assert_eq!(
            share_url(Platform::Facebook, "", "  HTTPS://Example.COM  ", ""),
            "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fexample.com%2F"
        );
        assert_eq!(
            share_url(Platform::Facebook, "", "https://münchen.de/a b", ""),
            "https://www.facebook.com/sharer/sharer.php?u=\
             https%3A%2F%2Fxn--mnchen-3ya.de%2Fa%2520b"
        );
    }

    #[test]
    fn links_that_are_not_absolute_http_or_https_are_refused() {
        const EMPTY: &str = "Enter the link to share.";
        const NOT_ABSOLUTE: &str = "Enter the full link to share, starting with https://.";
        const SCHEME: &str = "A link to share must start with https:// or http://.";
        const CREDENTIALS: &str = "A link to share must not contain a user name or password.";
        let cases = [
            ("", EMPTY),
            ("   ", EMPTY),
            ("example.com/news", NOT_ABSOLUTE),
            ("/news/1", NOT_ABSOLUTE),
            ("https://", NOT_ABSOLUTE),
            ("javascript:alert(1)", SCHEME),
            ("JavaScript:alert(1)", SCHEME),
            ("data:text/html,<b>hi</b>", SCHEME),
            ("ftp://example.com/file", SCHEME),
            ("mailto:jobs@example.com", SCHEME),
            ("https://user:secret@example.com/", CREDENTIALS),
        ];
        let instance = mastodon_social();
        for platform in Platform::ALL {
            for (url, message) in cases {
                let share = Share {
                    text: "Hello",
                    url,
                    title: "Hello",
                    instance: Some(&instance),
                };
                let refused = platform.share_url(&share);
                assert_eq!(refused, Err(Invalid::new(message)), "{platform:?} {url:?}");
            }
        }
        assert_eq!(
            share_url(Platform::Xing, "", "http://example.com/", ""),
            "https://www.xing.com/spi/shares/new?url=http%3A%2F%2Fexample.com%2F"
        );
    }

    #[test]
    fn a_caption_ending_in_a_line_break_puts_the_link_on_its_own_line() {
        assert_eq!(
            share_url(Platform::Bluesky, "Hi\n", "https://example.com/", ""),
            "https://bsky.app/intent/compose?text=Hi%0Ahttps%3A%2F%2Fexample.com%2F"
        );
        assert_eq!(
            Platform::Mastodon.count_with_link("Hi\n", "https://example.com/"),
            3 + 23
        );
    }

    #[test]
    fn x_counts_plain_ascii_one_each() {
        assert_eq!(Platform::X.count(""), 0);
        assert_eq!(Platform::X.count("Hello, world!"), 13);
        assert_eq!(Platform::X.count(&"a".repeat(280)), 280);
    }

    #[test]
    fn x_counts_cjk_two_each_and_latin_greek_arabic_one_each() {
        assert_eq!(Platform::X.count("日本語"), 6);
        assert_eq!(Platform::X.count("한국어"), 6);
        assert_eq!(Platform::X.count("Ελληνικά"), 8);
        assert_eq!(Platform::X.count("العربية"), 7);
        // General punctuation in the light ranges: – — ‘ ’ “ ” ′ count 1.
        assert_eq!(Platform::X.count("–—‘’“”′"), 7);
        // … (U+2026) and € (U+20AC) lie outside them.
        assert_eq!(Platform::X.count("…€"), 4);
    }

    #[test]
    fn x_counts_each_emoji_as_two_however_many_code_points_it_has() {
        assert_eq!(Platform::X.count("😀"), 2);
        assert_eq!(Platform::X.count("👩‍💻"), 2);
        assert_eq!(Platform::X.count("👨‍👩‍👧‍👦"), 2);
        assert_eq!(Platform::X.count("🇩🇪"), 2);
        assert_eq!(Platform::X.count("🇩🇪🇫🇷"), 4);
        assert_eq!(Platform::X.count("👍🏽"), 2);
        assert_eq!(Platform::X.count("🏳️‍🌈"), 2);
        assert_eq!(Platform::X.count("❤️"), 2);
        assert_eq!(Platform::X.count("1️⃣"), 2);
        assert_eq!(Platform::X.count("#⃣"), 2);
        // Without VS16, © is text and weighs 1; with it, an emoji weighing 2.
        assert_eq!(Platform::X.count("©"), 1);
        assert_eq!(Platform::X.count("©️"), 2);
        assert_eq!(Platform::X.count(CAPTION), 63);
    }

    #[test]
    fn x_counts_every_link_as_23_however_long() {
        assert_eq!(Platform::X.count("https://t.co"), 23);
        assert_eq!(Platform::X.count("http://example.com"), 23);
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(Platform::X.count(&long), 23);
        assert_eq!(Platform::X.count(&format!("Read {long} now")), 5 + 23 + 4);
        assert_eq!(Platform::X.count(LINK), 23);
        assert_eq!(Platform::X.count("HTTPS://EXAMPLE.COM/News"), 23);
    }

    #[test]
    fn x_counts_two_links_as_23_each() {
        assert_eq!(
            Platform::X.count("https://example.com/a and http://example.org/b?c=d"),
            23 + 5 + 23
        );
        assert_eq!(
            Platform::X.count("https://a.example https://b.example"),
            23 + 1 + 23
        );
    }

    #[test]
    fn x_ends_a_link_where_twitter_text_does() {
        // Sentence punctuation after a link is text.
        assert_eq!(Platform::X.count("See https://example.com."), 4 + 23 + 1);
        assert_eq!(Platform::X.count("(https://example.com/a)"), 1 + 23 + 1);
        assert_eq!(
            Platform::X.count("https://en.wikipedia.org/wiki/Rust_(film)"),
            23
        );
        assert_eq!(Platform::X.count("\"https://example.com/\""), 1 + 23 + 1);
        // CJK right after a link is not part of it.
        assert_eq!(Platform::X.count("https://example.com/a日本"), 23 + 4);
        // Not a link: glued to a word, no host with a top-level domain.
        assert_eq!(Platform::X.count("xhttps://example.com"), 20);
        assert_eq!(Platform::X.count("https://localhost/a"), 19);
        assert_eq!(Platform::X.count("https://"), 8);
        assert_eq!(Platform::X.count("http"), 4);
    }

    #[test]
    fn x_counts_combining_characters_after_nfc_normalisation() {
        // "e" + COMBINING ACUTE ACCENT becomes "é": one code point, weight 1.
        assert_eq!(Platform::X.count("Cafe\u{301}"), 4);
        // Hangul jamo compose to one syllable, which weighs 2.
        assert_eq!(Platform::X.count("\u{1112}\u{1161}\u{11AB}"), 2);
        // No precomposed form: each code point is weighed.
        assert_eq!(Platform::X.count("q\u{301}"), 2);
    }

    #[test]
    fn bluesky_counts_grapheme_clusters() {
        assert_eq!(Platform::Bluesky.count("👨‍👩‍👧‍👦"), 1);
        assert_eq!(Platform::Bluesky.count("👩‍💻🇩🇪👍🏽"), 3);
        assert_eq!(Platform::Bluesky.count("Cafe\u{301}"), 4);
        assert_eq!(Platform::Bluesky.count("日本語"), 3);
        assert_eq!(Platform::Bluesky.count(CAPTION), 57);
        // Bluesky counts a link in full.
        assert_eq!(Platform::Bluesky.count(LINK), 34);
    }

    #[test]
    fn mastodon_counts_characters_and_every_link_as_23() {
        assert_eq!(Platform::Mastodon.count(LINK), 23);
        assert_eq!(Platform::Mastodon.count("https://t.co"), 23);
        assert_eq!(
            Platform::Mastodon.count("日本語 https://example.com/x"),
            3 + 1 + 23
        );
        assert_eq!(Platform::Mastodon.count("👨‍👩‍👧‍👦"), 7);
        assert_eq!(Platform::Mastodon.count(CAPTION), 61);
    }

    #[test]
    fn linkedin_and_the_rest_count_unicode_scalar_values() {
        assert_eq!(Platform::LinkedIn.count(CAPTION), 61);
        assert_eq!(Platform::LinkedIn.count("👨‍👩‍👧‍👦"), 7);
        assert_eq!(Platform::LinkedIn.count(LINK), 34);
        assert_eq!(Platform::Facebook.count("Cafe\u{301}"), 5);
        assert_eq!(Platform::Threads.count("日本語"), 3);
    }

    #[test]
    fn count_with_link_counts_what_each_share_dialog_will_hold() {
        assert_eq!(Platform::X.count_with_link(CAPTION, LINK), 63 + 1 + 23);
        assert_eq!(Platform::X.count_with_link("", LINK), 23);
        assert_eq!(
            Platform::Mastodon.count_with_link(CAPTION, LINK),
            61 + 1 + 23
        );
        assert_eq!(
            Platform::Bluesky.count_with_link(CAPTION, LINK),
            57 + 1 + 34
        );
        assert_eq!(Platform::Bluesky.count_with_link("", LINK), 34);
        // The link as sent: "https://example.com" gains its "/".
        assert_eq!(
            Platform::Bluesky.count_with_link("", "https://example.com"),
            20
        );
        assert_eq!(
            Platform::Threads.count_with_link(CAPTION, LINK),
            61 + 1 + 34
        );
        // The link is a preview card or a field of its own, not text.
        assert_eq!(Platform::LinkedIn.count_with_link(CAPTION, LINK), 61);
        assert_eq!(Platform::Facebook.count_with_link(CAPTION, LINK), 61);
        assert_eq!(Platform::Xing.count_with_link(CAPTION, LINK), 61);
        assert_eq!(Platform::Reddit.count_with_link(TITLE, LINK), 30);
    }

    #[test]
    fn instance_host_accepts_what_people_type_and_keeps_the_lower_cased_host() {
        for input in [
            "mastodon.social",
            " Mastodon.Social ",
            "MASTODON.SOCIAL",
            "https://mastodon.social",
            "https://mastodon.social/",
            "HTTPS://Mastodon.Social/",
            "http://mastodon.social",
        ] {
            assert_eq!(
                InstanceHost::parse(input).map(|host| host.as_str().to_string()),
                Ok("mastodon.social".to_string()),
                "{input:?}"
            );
        }
        assert_eq!(
            InstanceHost::parse("social.example-1.co.uk")
                .unwrap()
                .as_str(),
            "social.example-1.co.uk"
        );
        assert_eq!(
            InstanceHost::parse("Münster.Social").unwrap().as_str(),
            "xn--mnster-3ya.social"
        );
        let longest = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(longest.len(), 253);
        assert_eq!(InstanceHost::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn instance_host_refuses_anything_but_a_public_host_name_with_a_clear_message() {
        const EMPTY: &str = "Enter the address of your Mastodon server, like mastodon.social.";
        const PATH: &str = "Enter only the address of your Mastodon server, \
                            like mastodon.social, without anything after it.";
        const HANDLE: &str = "Enter the address of your Mastodon server, \
                              like mastodon.social, not your @name@server handle.";
        const PORT: &str = "Enter the address of your Mastodon server without a port number, \
                            like mastodon.social.";
        const IP: &str = "Enter the name of your Mastodon server, like mastodon.social, \
                          not an IP address.";
        const LOCAL: &str = "Enter the address of a public Mastodon server, like mastodon.social.";
        const NOT_A_HOST: &str = "This is not a server address. Enter one like mastodon.social.";
        const TOO_LONG: &str = "A server address has at most 253 characters.";
        let long_label = format!("{}.social", "a".repeat(64));
        let too_long = [63, 63, 63, 62].map(|n| "a".repeat(n)).join(".");
        let cases = [
            ("", EMPTY),
            ("   ", EMPTY),
            ("https://mastodon.social/@me", PATH),
            ("mastodon.social/about", PATH),
            ("mastodon.social//", PATH),
            ("mastodon.social?x=1", PATH),
            ("@me@mastodon.social", HANDLE),
            ("me@mastodon.social", HANDLE),
            ("https://user:pw@mastodon.social", HANDLE),
            ("mastodon.social:443", PORT),
            ("https://mastodon.social:8443/", PORT),
            ("127.0.0.1", IP),
            ("https://192.168.1.10/", IP),
            ("0x7f.1", IP),
            ("[::1]", IP),
            ("::1", IP),
            ("localhost", LOCAL),
            ("social.localhost", LOCAL),
            ("mastodon", NOT_A_HOST),
            ("mastodon social", NOT_A_HOST),
            ("-mastodon.social", NOT_A_HOST),
            ("mastodon-.social", NOT_A_HOST),
            ("mastodon..social", NOT_A_HOST),
            ("mastodon.social.", NOT_A_HOST),
            ("mast_odon.social", NOT_A_HOST),
            ("masto!don.social", NOT_A_HOST),
            ("ftp://mastodon.social", NOT_A_HOST),
            (&long_label, NOT_A_HOST),
            (&too_long, TOO_LONG),
        ];
        for (input, message) in cases {
            assert_eq!(
                InstanceHost::parse(input),
                Err(Invalid::new(message)),
                "{input:?}"
            );
        }
    }
}
