//! Email addresses as Chorus keeps them: trimmed and lower-cased, so that one
//! person cannot hold two accounts by changing case.

use super::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, Invalid> {
        let value = input.trim().to_lowercase();
        if value.is_empty() {
            return Err(Invalid::new("Enter an email address."));
        }
        // RFC 5321 §4.5.3.1.3: a path is at most 256 octets including brackets.
        if value.len() > 254 {
            return Err(Invalid::new("An email address has at most 254 characters."));
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(Invalid::new(
                "Enter an email address like name@example.com.",
            ));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control());
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !local_ok || !domain_ok {
            return Err(Invalid::new(
                "Enter an email address like name@example.com.",
            ));
        }
        Ok(EmailAddress(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map(|(local, _)| local)
            .unwrap_or(&self.0)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an admin reads where a relay's reply quoted an address.
pub const HIDDEN_ADDRESS: &str = "address hidden";

/// Characters of an unquoted local part (RFC 5322 §3.2.3 atext, plus the
/// dot-atom's dots; RFC 6531 lets in any letter).
fn in_local_part(c: char) -> bool {
    c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn in_domain(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '.'
}

/// A text (a relay's reply, say) with every email address in it replaced,
/// so that a failure can be shown without saying whose mail failed:
/// `550 5.1.1 <sam@example.com>: no such user` becomes `550 5.1.1 <address
/// hidden>: no such user`. Addresses in angle brackets go with what else
/// the brackets hold; bare ones (`sam@example.com`, `"sam smith"@host`,
/// `sam@[192.0.2.1]`) become `(address hidden)`. `known` are addresses the
/// text may name in a form no pattern catches (the message's recipient):
/// they go whole, ignoring ASCII case, and so does their local part where
/// it stands as a word (sendmail's `sam... User unknown`).
pub fn hide_addresses(text: &str, known: &[&str]) -> String {
    let bracketed = hide_bracketed(text);
    let mut out = bracketed;
    for address in known.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        out = replace_ignoring_ascii_case(&out, address, |_, _| true);
    }
    out = hide_bare(&out);
    for address in known {
        let Some((local, _)) = address.trim().rsplit_once('@') else {
            continue;
        };
        // A local part shorter than three characters, or without a letter,
        // is too likely to be an ordinary word or a reply code.
        if local.chars().count() < 3 || !local.chars().any(char::is_alphabetic) {
            continue;
        }
        out = replace_ignoring_ascii_case(&out, local, |before, after| {
            !before.is_some_and(|c| c.is_alphanumeric() || "_+-".contains(c))
                && !after.is_some_and(|c| c.is_alphanumeric() || "_+-@".contains(c))
        });
    }
    out
}

/// `<…@…>` becomes `<address hidden>`.
fn hide_bracketed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['<', '>']) {
            Some(close) if after.as_bytes()[close] == b'>' && after[..close].contains('@') => {
                out.push('<');
                out.push_str(HIDDEN_ADDRESS);
                out.push('>');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `local@domain` left becomes `(address hidden)`.
fn hide_bare(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // `done`: how far `text` has been copied (or replaced) into `out`.
    let mut done = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find('@') {
        let at = search + found;
        search = at + 1;
        let start = local_part_start(&text[done..at]) + done;
        let end = at + 1 + domain_length(&text[at + 1..]);
        if start == at || end == at + 1 {
            continue;
        }
        push_hidden(&mut out, &text[done..start]);
        done = end;
        search = end;
    }
    out.push_str(&text[done..]);
    out
}

/// Appends `kept`, then `(address hidden)` in place of what followed it.
fn push_hidden(out: &mut String, kept: &str) {
    out.push_str(kept);
    out.push('(');
    out.push_str(HIDDEN_ADDRESS);
    out.push(')');
}

/// Where the local part that ends `before` (the text up to an `@`) starts;
/// `before.len()` when there is none.
fn local_part_start(before: &str) -> usize {
    if let Some(inner) = before.strip_suffix('"') {
        // A quoted local part: back to the opening quote, on the same line.
        if let Some(open) = inner.rfind(['"', '\n', '\r'])
            && inner.as_bytes()[open] == b'"'
        {
            return open;
        }
    }
    let mut start = before.len();
    for (i, c) in before.char_indices().rev() {
        if !in_local_part(c) {
            break;
        }
        start = i;
    }
    // A dot cannot begin a local part: "(end of sentence.)sam@…" keeps its dot.
    start + before[start..].len() - before[start..].trim_start_matches('.').len()
}

/// How many bytes of `after` (the text after an `@`) are its domain.
fn domain_length(after: &str) -> usize {
    if after.starts_with('[') {
        // An address literal (RFC 5321 §4.1.3): up to its closing bracket.
        return after.find(']').map_or(0, |close| close + 1);
    }
    let length = after
        .char_indices()
        .find(|&(_, c)| !in_domain(c))
        .map_or(after.len(), |(i, _)| i);
    // A full stop or hyphen after the address is the sentence's, not the domain's.
    after[..length].trim_end_matches(['.', '-']).len()
}

/// `text` with each occurrence of `needle` (ignoring ASCII case) for which
/// `accept(char before, char after)` holds replaced by [`HIDDEN_ADDRESS`]
/// in parentheses.
fn replace_ignoring_ascii_case(
    text: &str,
    needle: &str,
    accept: impl Fn(Option<char>, Option<char>) -> bool,
) -> String {
    // ASCII lower-casing keeps every byte offset, so offsets found in the
    // lowered copy are offsets in `text`.
    let (haystack, needle) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut search = 0;
    while let Some(found) = haystack[search..].find(&needle) {
        let (start, end) = (search + found, search + found + needle.len());
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if accept(before, after) {
            push_hidden(&mut out, &text[done..start]);
            done = end;
            search = end;
        } else {
            search = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_relay_replies_are_hidden_in_brackets_and_bare() {
        let cases = [
            (
                "550 5.1.1 <sam@example.com>: no such user",
                "550 5.1.1 <address hidden>: no such user",
            ),
            (
                "550 5.1.1 sam@example.com: Recipient address rejected",
                "550 5.1.1 (address hidden): Recipient address rejected",
            ),
            (
                "550-5.1.1 The email account that you tried to reach does not exist. \
                 Please try double-checking the recipient's email address for typos: \
                 Sam.Smith+news@Mail.Example.co.uk.",
                "550-5.1.1 The email account that you tried to reach does not exist. \
                 Please try double-checking the recipient's email address for typos: \
                 (address hidden).",
            ),
            (
                "RCPT TO:<sam@example.com> and rfc822;ana@example.org failed",
                "RCPT TO:<address hidden> and rfc822;(address hidden) failed",
            ),
            (
                "<\"sam smith\"@example.com> unknown, \"ana b\"@example.com too",
                "<address hidden> unknown, (address hidden) too",
            ),
            (
                "550 sam@[192.0.2.1] refused",
                "550 (address hidden) refused",
            ),
            (
                "550 5.1.1 jörg@müller.de unbekannt",
                "550 5.1.1 (address hidden) unbekannt",
            ),
            (
                "553 <bounce=sam=example.com@relay.example>",
                "553 <address hidden>",
            ),
            ("550 <sam@example.com", "550 <(address hidden)"),
        ];
        for (reply, shown) in cases {
            assert_eq!(hide_addresses(reply, &[]), shown, "{reply}");
        }
    }

    #[test]
    fn replies_without_an_address_are_left_as_they_were() {
        for reply in [
            "421 4.7.0 Try again later",
            "554 5.7.1 Message rejected as spam",
            "MAIL FROM:<> accepted",
            "a lone @ sign, an @handle and user@ nothing",
            "Connection refused (os error 111)",
            "",
        ] {
            assert_eq!(hide_addresses(reply, &[]), reply);
        }
    }

    #[test]
    fn the_known_recipient_is_hidden_in_any_case_and_by_its_local_part() {
        let known = ["sam.smith@example.com"];
        assert_eq!(
            hide_addresses("550 SAM.SMITH@EXAMPLE.COM unknown", &known),
            "550 (address hidden) unknown"
        );
        assert_eq!(
            hide_addresses("550 5.1.1 sam.smith... User unknown", &known),
            "550 5.1.1 (address hidden)... User unknown"
        );
        // Not inside another word.
        assert_eq!(
            hide_addresses("550 sam.smithson is someone else", &known),
            "550 sam.smithson is someone else"
        );
        // A local part too short or without letters would hide ordinary words.
        assert_eq!(
            hide_addresses("550 no such user", &["no@example.com", "550@example.com"]),
            "550 no such user"
        );
        // A recipient that is not a valid address is still hidden where quoted.
        assert_eq!(
            hide_addresses("550 <a b>@host refused <a b>@host", &["<a b>@host"]),
            "550 (address hidden) refused (address hidden)"
        );
    }

    proptest::proptest! {
        #[test]
        fn no_generated_address_survives_in_any_surrounding(
            local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\\.[a-zA-Z0-9_+-]{1,8}){0,2}",
            domain in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?(\\.[a-z]{2,6}){1,3}",
            before in "[ -?A-~]{0,20}",
            after in "[ -?A-~]{0,20}",
            bracketed: bool,
        ) {
            // The surroundings hold no `@` of their own (the ranges skip it).
            let address = format!("{local}@{domain}");
            let text = if bracketed {
                format!("{before}<{address}>{after}")
            } else {
                format!("{before} {address} {after}")
            };
            let shown = hide_addresses(&text, &[]);
            proptest::prop_assert!(!shown.contains('@'), "{text:?} -> {shown:?}");
            proptest::prop_assert!(shown.contains(HIDDEN_ADDRESS));
        }
    }

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(email.local_part(), "ada.lovelace");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_message() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@.example.com",
            "ada@example..com",
            "ada@example.com.",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(!err.0.is_empty(), "{bad:?} must be refused with a message");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
