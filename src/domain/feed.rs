//! Feeds into the hub: the address and polling interval comms give, and an
//! RSS 2.0 or Atom 1.0 document (read by `feed-rs`) turned into the items
//! that become drafts, each with the key it is known by: its GUID (Atom
//! `id`), or its link when it has none.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Text};
use scraper::Html;
use url::Url;

use super::Invalid;
use super::link_preview::{DESCRIPTION_MAX, tidy};

/// Minutes between two polls of a feed at least.
pub const MIN_INTERVAL_MINUTES: i32 = 15;
/// The interval a new feed gets unless comms choose another.
pub const DEFAULT_INTERVAL_MINUTES: i32 = 60;
/// A week: the longest interval.
pub const MAX_INTERVAL_MINUTES: i32 = 7 * 24 * 60;
/// Bytes of a feed read at most.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Characters of a feed address at most.
pub const MAX_URL_CHARS: usize = 2_000;
/// Items drafted from a feed's first reading at most (the newest); older
/// ones are only marked as seen, so adding a blog with years of posts does
/// not fill the hub.
pub const FIRST_READING_DRAFTS: usize = 10;
/// Items drafted from one later reading at most (the newest).
pub const READING_DRAFTS: usize = 50;
/// Characters of a draft's title (the hub's limit for post titles).
const TITLE_MAX: usize = 120;
/// Characters of a draft's base text taken from the item's summary.
const BASE_TEXT_MAX: usize = 280;

/// A feed's address as comms typed it: http or https, with a host, no
/// credentials.
pub fn parse_url(input: &str) -> Result<String, Invalid> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(
            "Enter the feed's address, starting with https://.",
        ));
    }
    if trimmed.chars().count() > MAX_URL_CHARS {
        return Err(Invalid::new(format!(
            "A feed address has at most {MAX_URL_CHARS} characters."
        )));
    }
    let url = Url::parse(trimmed)
        .map_err(|_| Invalid::new("Enter a full address such as https://example.com/feed.xml."))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::new(
            "Only http:// and https:// feed addresses can be read.",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new(
            "A feed address cannot contain a user name or password.",
        ));
    }
    Ok(url.to_string())
}

/// Minutes between polls as typed; empty means the default.
pub fn parse_interval(input: &str) -> Result<i32, Invalid> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(DEFAULT_INTERVAL_MINUTES);
    }
    let refusal = || {
        Invalid::new(format!(
            "Check the feed every {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES} minutes (a week)."
        ))
    };
    let minutes: i32 = trimmed.parse().map_err(|_| refusal())?;
    if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&minutes) {
        return Err(refusal());
    }
    Ok(minutes)
}

/// A feed as read: its own title and its items, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedDocument {
    pub title: String,
    pub items: Vec<FeedItem>,
}

/// One item of a feed, as a draft takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    /// `guid:` and the GUID (or Atom id), or `link:` and the link.
    pub key: String,
    /// Plain text, within the hub's title limit.
    pub title: String,
    /// The absolute http(s) link to share.
    pub link: String,
    /// Plain text (markup removed), within a preview description's limit.
    pub summary: String,
    /// The item's own image (media thumbnail or content, or an image
    /// enclosure), absolute http(s).
    pub image: Option<Url>,
    pub published: Option<DateTime<Utc>>,
}

impl FeedItem {
    /// The draft's base text: the summary cut short for sharing, or the
    /// title when the item has none.
    pub fn base_text(&self) -> String {
        if self.summary.is_empty() {
            self.title.clone()
        } else {
            tidy(&self.summary, BASE_TEXT_MAX)
        }
    }
}

/// Why a body is not a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Not a valid RSS or Atom feed.")]
pub struct NotAFeed;

/// Marks items without an id so that they are keyed by their link; those
/// without either get an empty id and are left out.
fn link_key(links: &[feed_rs::model::Link], _: &Option<Text>, _: Option<&str>) -> String {
    links
        .first()
        .map(|link| format!("link:{}", link.href.trim()))
        .unwrap_or_default()
}

/// Reads a feed fetched from `base` (relative links resolve against it).
pub fn read(body: &[u8], base: &Url) -> Result<FeedDocument, NotAFeed> {
    let parsed = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        .id_generator(link_key)
        .build()
        .parse(body)
        .map_err(|_| NotAFeed)?;
    let title = parsed
        .title
        .as_ref()
        .map(|t| plain_text(t, TITLE_MAX))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| base.host_str().unwrap_or_default().to_string());
    let mut seen = HashSet::new();
    let mut items: Vec<FeedItem> = parsed
        .entries
        .iter()
        .filter_map(|entry| item(entry, base))
        .filter(|item| seen.insert(item.key.clone()))
        .collect();
    // Newest first; items without a date keep the feed's own order.
    items.sort_by_key(|item| std::cmp::Reverse(item.published));
    Ok(FeedDocument { title, items })
}

fn item(entry: &Entry, base: &Url) -> Option<FeedItem> {
    let id = entry.id.trim();
    if id.is_empty() {
        return None;
    }
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .find_map(|l| absolute(&l.href, base))
        .or_else(|| absolute(id, base).filter(|_| id.starts_with("http")))?;
    let link = super::post::parse_link(link.as_str()).ok()?;
    let key = if id.starts_with("link:") {
        format!("link:{link}")
    } else {
        format!("guid:{id}")
    };
    let summary = entry
        .summary
        .as_ref()
        .map(|t| plain_text(t, DESCRIPTION_MAX))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let body = entry.content.as_ref()?.body.as_deref()?;
            Some(html_text(body, DESCRIPTION_MAX))
        })
        .unwrap_or_default();
    let title = entry
        .title
        .as_ref()
        .map(|t| plain_text(t, TITLE_MAX))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            if summary.is_empty() {
                tidy(&link, TITLE_MAX)
            } else {
                tidy(&summary, TITLE_MAX)
            }
        });
    Some(FeedItem {
        key,
        title,
        link,
        summary,
        image: image(entry, base),
        published: entry.published.or(entry.updated),
    })
}

fn absolute(href: &str, base: &Url) -> Option<Url> {
    base.join(href.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
}

/// The item's own picture: a media thumbnail, image media content, or an
/// image enclosure.
fn image(entry: &Entry, base: &Url) -> Option<Url> {
    let thumbnails = entry
        .media
        .iter()
        .flat_map(|m| m.thumbnails.iter())
        .filter_map(|t| absolute(&t.image.uri, base));
    let contents = entry
        .media
        .iter()
        .flat_map(|m| m.content.iter())
        .filter(|c| {
            c.content_type
                .as_ref()
                .is_some_and(|t| t.to_string().starts_with("image/"))
        })
        .filter_map(|c| c.url.as_ref().and_then(|u| absolute(u.as_str(), base)));
    let enclosures = entry
        .links
        .iter()
        .filter(|l| {
            l.rel.as_deref() == Some("enclosure")
                && l.media_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"))
        })
        .filter_map(|l| absolute(&l.href, base));
    thumbnails.chain(contents).chain(enclosures).next()
}

/// A text construct as plain text: markup (HTML or XHTML types) removed.
fn plain_text(text: &Text, max: usize) -> String {
    let kind = text.content_type.to_string();
    if kind.contains("html") {
        html_text(&text.content, max)
    } else {
        tidy(&text.content, max)
    }
}

/// The words of an HTML fragment, without tags, scripts or styles.
fn html_text(html: &str, max: usize) -> String {
    let fragment = Html::parse_fragment(html);
    let mut words = String::new();
    for node in fragment.root_element().descendants() {
        let Some(text) = node.value().as_text() else {
            continue;
        };
        let hidden = node.ancestors().any(|a| {
            a.value()
                .as_element()
                .is_some_and(|e| matches!(e.name(), "script" | "style" | "template"))
        });
        if !hidden {
            words.push_str(text);
            words.push(' ');
        }
    }
    tidy(&words, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.com/feed.xml").unwrap()
    }

    #[test]
    fn intervals_below_fifteen_minutes_are_refused() {
        assert_eq!(parse_interval(""), Ok(DEFAULT_INTERVAL_MINUTES));
        assert_eq!(parse_interval("15"), Ok(15));
        assert!(parse_interval("14").is_err());
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval(&(MAX_INTERVAL_MINUTES + 1).to_string()).is_err());
    }

    #[test]
    fn only_web_addresses_without_credentials_are_feeds() {
        assert!(parse_url("https://example.com/feed").is_ok());
        assert!(parse_url("ftp://example.com/feed").is_err());
        assert!(parse_url("https://me:secret@example.com/feed").is_err());
        assert!(parse_url("feed.xml").is_err());
        assert!(parse_url("").is_err());
    }

    #[test]
    fn rss_items_are_keyed_by_guid_or_else_link_with_markup_removed() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Acme news</title>
<item><title>First &amp; best</title><link>https://news.example.com/first</link><guid>tag:acme,1</guid>
<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description></item>
<item><title>No guid</title><link>/second</link></item>
<item><title>Nothing to share</title></item>
</channel></rss>"#;
        let feed = read(rss, &base()).unwrap();
        assert_eq!(feed.title, "Acme news");
        assert_eq!(feed.items.len(), 2);
        assert_eq!(feed.items[0].key, "guid:tag:acme,1");
        assert_eq!(feed.items[0].title, "First & best");
        assert_eq!(feed.items[0].summary, "Hello world");
        assert_eq!(feed.items[1].key, "link:https://news.example.com/second");
        assert_eq!(feed.items[1].link, "https://news.example.com/second");
    }

    #[test]
    fn atom_entries_are_read_with_their_image() {
        let atom = br#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>Acme blog</title><id>urn:acme</id><updated>2026-12-01T10:00:00Z</updated>
<entry><title>Older</title><id>urn:acme:1</id><updated>2026-11-01T10:00:00Z</updated>
<link href="https://news.example.com/older"/></entry>
<entry><title type="html">&lt;em&gt;Newer&lt;/em&gt;</title><id>urn:acme:2</id><updated>2026-12-01T10:00:00Z</updated>
<link rel="alternate" href="https://news.example.com/newer"/><summary>Short words.</summary>
<media:content url="https://news.example.com/card.png" type="image/png" medium="image"/></entry>
</feed>"#;
        let feed = read(atom, &base()).unwrap();
        assert_eq!(feed.title, "Acme blog");
        assert_eq!(feed.items[0].title, "Newer");
        assert_eq!(feed.items[0].key, "guid:urn:acme:2");
        assert_eq!(
            feed.items[0].image.as_ref().map(Url::as_str),
            Some("https://news.example.com/card.png")
        );
        assert_eq!(feed.items[1].title, "Older");
    }

    #[test]
    fn html_and_broken_xml_are_not_feeds() {
        assert_eq!(
            read(b"<html><body>Hi</body></html>", &base()),
            Err(NotAFeed)
        );
        assert_eq!(
            read(b"<rss version=\"2.0\"><channel><item>", &base()),
            Err(NotAFeed)
        );
    }
}
