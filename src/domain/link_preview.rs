//! A link's preview: the title, description and image a page declares for
//! itself (Open Graph, then Twitter card tags, then `<title>` and the
//! description meta tag), read with a real HTML parser, and the rules for
//! the text comms may write instead.

use scraper::{Html, Selector};
use url::Url;

use super::Invalid;

/// Characters of a preview title at most.
pub const TITLE_MAX: usize = 200;
/// Characters of a preview description at most.
pub const DESCRIPTION_MAX: usize = 500;

/// What a page says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    pub title: String,
    pub description: String,
    /// The image's absolute http(s) address, if the page names one.
    pub image: Option<Url>,
}

fn selector(text: &str) -> Selector {
    Selector::parse(text).expect("the built-in selectors parse")
}

/// Runs of whitespace as one space, trimmed, cut to `max` characters (with
/// an ellipsis when cut).
pub fn tidy(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut = cut.trim_end().to_string();
    cut.push('…');
    cut
}

/// The first non-empty `content` of a `<meta>` whose `property` or `name`
/// is one of `keys`, in the order of `keys`.
fn meta(document: &Html, keys: &[&str]) -> Option<String> {
    let metas = selector("meta[content]");
    keys.iter().find_map(|key| {
        document.select(&metas).find_map(|element| {
            let value = element.value();
            let named = value
                .attr("property")
                .or_else(|| value.attr("name"))
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(key));
            let content = value.attr("content").unwrap_or("").trim();
            (named && !content.is_empty()).then(|| content.to_string())
        })
    })
}

/// A page's bytes as text, in the encoding it declares: a byte order
/// mark, then the Content-Type's charset, then a `<meta charset>` (or
/// `http-equiv` Content-Type) among its first 1024 bytes, as browsers
/// look for it; UTF-8 otherwise. Bytes that are not valid in it become
/// U+FFFD.
pub fn decode(body: &[u8], header_charset: Option<&str>) -> String {
    let declared = header_charset
        .and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()))
        .or_else(|| meta_charset(&body[..body.len().min(1024)]));
    let encoding = declared.unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// The charset a page's head declares in a meta tag, if it names one.
fn meta_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = text.find("charset=")? + "charset=".len();
    let label: String = text[at..]
        .trim_start_matches(['"', '\'', ' '])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// Reads a page's title, description and image (relative addresses
/// resolved against `page`, or the page's `<base href>`).
pub fn read_page(html: &str, page: &Url) -> PageMeta {
    let document = Html::parse_document(html);
    let title = meta(&document, &["og:title", "twitter:title"]).or_else(|| {
        document
            .select(&selector("title"))
            .next()
            .map(|t| t.text().collect::<String>())
    });
    let description = meta(
        &document,
        &["og:description", "twitter:description", "description"],
    );
    let base = document
        .select(&selector("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let image = meta(
        &document,
        &[
            "og:image:secure_url",
            "og:image",
            "og:image:url",
            "twitter:image",
            "twitter:image:src",
        ],
    )
    .and_then(|src| base.join(&src).ok())
    .filter(|url| matches!(url.scheme(), "http" | "https"));
    PageMeta {
        title: tidy(&title.unwrap_or_default(), TITLE_MAX),
        description: tidy(&description.unwrap_or_default(), DESCRIPTION_MAX),
        image,
    }
}

/// The preview text comms wrote: trimmed, each within its limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviewText {
    pub title: String,
    pub description: String,
}

/// Checks the title and description comms typed.
pub fn parse_text(title: &str, description: &str) -> Result<PreviewText, Invalid> {
    let title = title.trim();
    let description = description.trim();
    if title.chars().count() > TITLE_MAX {
        return Err(Invalid::new(format!(
            "The preview title is longer than {TITLE_MAX} characters."
        )));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(Invalid::new(format!(
            "The preview description is longer than {DESCRIPTION_MAX} characters."
        )));
    }
    Ok(PreviewText {
        title: title.to_string(),
        description: description.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/news/launch").unwrap()
    }

    #[test]
    fn open_graph_tags_come_first() {
        let html = r#"<!doctype html><html><head>
            <title>Site title</title>
            <meta name="twitter:title" content="Twitter title">
            <meta property="og:title" content="  Launch   day ">
            <meta name="description" content="Plain description">
            <meta property="og:description" content="We launched.">
            <meta property="og:image" content="/img/card.png">
            </head><body></body></html>"#;
        let meta = read_page(html, &page());
        assert_eq!(meta.title, "Launch day");
        assert_eq!(meta.description, "We launched.");
        assert_eq!(
            meta.image.unwrap().as_str(),
            "https://example.com/img/card.png"
        );
    }

    #[test]
    fn without_tags_the_title_element_and_description_serve() {
        let html = "<html><head><title>Only &amp; a title</title>\
            <meta name=description content='Said plainly'></head></html>";
        let meta = read_page(html, &page());
        assert_eq!(meta.title, "Only & a title");
        assert_eq!(meta.description, "Said plainly");
        assert_eq!(meta.image, None);
    }

    #[test]
    fn twitter_cards_fill_in_for_open_graph() {
        let html = r#"<meta name="twitter:title" content="T"><meta name="twitter:image" content="https://cdn.example.net/x.jpg">"#;
        let meta = read_page(html, &page());
        assert_eq!(meta.title, "T");
        assert_eq!(meta.image.unwrap().host_str(), Some("cdn.example.net"));
    }

    #[test]
    fn images_that_are_not_web_addresses_are_ignored() {
        let html = r#"<meta property="og:image" content="javascript:alert(1)">"#;
        assert_eq!(read_page(html, &page()).image, None);
        let html = r#"<meta property="og:image" content="data:image/png;base64,AAAA">"#;
        assert_eq!(read_page(html, &page()).image, None);
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let long = "word ".repeat(200);
        let html = format!("<title>{long}</title>");
        let meta = read_page(&html, &page());
        assert!(meta.title.chars().count() <= TITLE_MAX);
        assert!(meta.title.ends_with('…'));
    }

    #[test]
    fn pages_in_other_encodings_are_read_in_theirs() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"><title>Caf\xe9 cr\xe8me</title></head></html>";
        assert_eq!(
            read_page(&decode(latin1, None), &page()).title,
            "Café crème"
        );
        let plain = b"<title>Gr\xfc\xdfe</title>";
        assert_eq!(
            read_page(&decode(plain, Some("windows-1252")), &page()).title,
            "Grüße"
        );
        let utf8 = "<title>Grüße</title>".as_bytes();
        assert_eq!(read_page(&decode(utf8, None), &page()).title, "Grüße");
    }

    #[test]
    fn typed_text_over_the_limits_is_refused() {
        assert!(parse_text(&"x".repeat(TITLE_MAX + 1), "").is_err());
        assert!(parse_text("", &"x".repeat(DESCRIPTION_MAX + 1)).is_err());
        assert_eq!(
            parse_text(" A ", " B ").unwrap(),
            PreviewText {
                title: "A".into(),
                description: "B".into()
            }
        );
    }
}
