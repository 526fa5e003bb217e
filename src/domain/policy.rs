//! The social-media policy text: rendered from Markdown to HTML that is safe
//! to embed (ammonia strips scripts, event handlers and unknown tags), and
//! fingerprinted with SHA-256 so a consent can name the exact text shown.

use sha2::{Digest, Sha256};

use super::Invalid;

pub const MAX_MARKDOWN_CHARS: usize = 100_000;

/// HTML that went through the sanitiser. The only way to make one is
/// [`render_markdown`], so templates may embed it without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn render_markdown(markdown: &str) -> SafeHtml {
    use pulldown_cmark::{Options, Parser, html};
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    let clean = ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(&unsafe_html)
        .to_string();
    SafeHtml(clean)
}

/// Hex SHA-256 of the exact text published.
pub fn fingerprint(markdown: &str) -> String {
    hex::encode(Sha256::digest(markdown.as_bytes()))
}

/// The policy text as an admin submits it: line endings normalised, not empty.
pub fn parse_text(input: &str) -> Result<String, Invalid> {
    let text = input.replace("\r\n", "\n");
    if text.trim().is_empty() {
        return Err(Invalid::new("Write the policy text before publishing it."));
    }
    if text.chars().count() > MAX_MARKDOWN_CHARS {
        return Err(Invalid::new(format!(
            "The policy has at most {MAX_MARKDOWN_CHARS} characters."
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_scripts_do_not_survive() {
        let html = render_markdown(
            "# Policy\n\nShare **only** what you like.\n\n<script>alert(1)</script>\n\n\
             [x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://example.com)",
        );
        let html = html.as_str();
        assert!(html.contains("<h1>Policy</h1>"));
        assert!(html.contains("<strong>only</strong>"));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("href=\"https://example.com\""));
    }

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_exact_text() {
        assert_eq!(
            fingerprint("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(fingerprint("Policy."), fingerprint("Policy. "));
    }

    #[test]
    fn empty_policies_are_refused_and_line_endings_normalised() {
        assert!(parse_text("  \n ").is_err());
        assert_eq!(parse_text("a\r\nb").unwrap(), "a\nb");
    }
}
