//! The HTML escaper every `.html` template uses, the pages' and the
//! emails' alike (set in `askama.toml`); so it sits beside both, here.
//!
//! It escapes exactly what askama's own `Html` escaper escapes, into the
//! same entities: `"` `&` `'` `<` `>`. Every `{{ }}` of every template still
//! goes through it; only the search for those five characters is faster.
//! askama's reads one byte after another, and a queue page escapes about
//! 20 KB of captions, links and tokens on every view; this one looks at 16
//! bytes at a time. The property test below holds it to askama's output.

use std::fmt::{self, Write};

/// The entity each escaped byte becomes (askama's choice of entities).
fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'"' => Some("&#34;"),
        b'&' => Some("&#38;"),
        b'\'' => Some("&#39;"),
        b'<' => Some("&#60;"),
        b'>' => Some("&#62;"),
        _ => None,
    }
}

/// The escaper named in `askama.toml` for `.html` templates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        // `text[written..]` is not written yet.
        let mut written = 0;
        while let Some(at) = next_to_escape(bytes, written) {
            // The five characters are ASCII, so `at` is a char boundary.
            if at > written {
                dest.write_str(&text[written..at])?;
            }
            dest.write_str(entity(bytes[at]).unwrap_or_default())?;
            written = at + 1;
        }
        if written < text.len() {
            dest.write_str(&text[written..])?;
        }
        Ok(())
    }
}

/// The index of the first byte at or after `from` that must be escaped.
#[cfg(target_arch = "x86_64")]
fn next_to_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let first_set =
        |mask: u32, base: usize| (mask != 0).then(|| base + mask.trailing_zeros() as usize);
    let len = bytes.len();
    let mut at = from;
    while let Some(chunk) = bytes
        .get(at..at + 16)
        .and_then(|c| <&[u8; 16]>::try_from(c).ok())
    {
        if let Some(found) = first_set(escapes_among_16(chunk), at) {
            return Some(found);
        }
        at += 16;
    }
    if at >= len {
        return None;
    }
    match bytes
        .get(len.saturating_sub(16)..)
        .and_then(|c| <&[u8; 16]>::try_from(c).ok())
    {
        // The last 16 bytes, overlapping those already looked at.
        Some(last) => first_set(escapes_among_16(last) >> (at - (len - 16)), at),
        // A string shorter than 16 bytes (most of what a page escapes:
        // names, slugs, numbers), byte by byte. (Copying it into a padded
        // block instead stalled the load that followed, behind the copy's
        // stores: `perf` put 40 % of the escaper's time on that load.)
        None => next_to_escape_bytewise(bytes, at),
    }
}

/// Bit i is set when byte i must be escaped.
#[cfg(target_arch = "x86_64")]
fn escapes_among_16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: the 16 bytes read are `chunk`'s, and `_mm_loadu_si128`
    // needs no alignment. The rest are SSE2 instructions on values, and
    // SSE2 is part of every x86_64 processor (Rust's x86_64 targets enable
    // it).
    unsafe {
        let chunk = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let is = |byte: u8| _mm_cmpeq_epi8(chunk, _mm_set1_epi8(byte as i8));
        let hits = _mm_or_si128(
            _mm_or_si128(is(b'"'), is(b'&')),
            _mm_or_si128(_mm_or_si128(is(b'\''), is(b'<')), is(b'>')),
        );
        _mm_movemask_epi8(hits) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn next_to_escape(bytes: &[u8], from: usize) -> Option<usize> {
    next_to_escape_bytewise(bytes, from)
}

fn next_to_escape_bytewise(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&byte| entity(byte).is_some())
        .map(|offset| from + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper;
    use proptest::prelude::*;

    fn ours(text: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    fn askamas(text: &str) -> String {
        let mut out = String::new();
        askama::filters::Html
            .write_escaped_str(&mut out, text)
            .unwrap();
        out
    }

    #[test]
    fn the_five_characters_become_askamas_entities_wherever_they_stand() {
        assert_eq!(
            ours(r#"<a href="x?a=1&b='2'">"#),
            "&#60;a href=&#34;x?a=1&#38;b=&#39;2&#39;&#34;&#62;"
        );
        // Past the first 16 bytes, at the last byte, and in the bytewise tail.
        let text = "a plain run of words <script> then & more words at the end >";
        assert_eq!(ours(text), askamas(text));
        assert_eq!(ours("0123456789abcde<"), "0123456789abcde&#60;");
        assert_eq!(ours("Grüße, 🎉 & café"), "Grüße, 🎉 &#38; café");
        assert_eq!(ours(""), "");
    }

    proptest! {
        #[test]
        fn escapes_exactly_as_askama_does(text in "(.|[\"&'<>]){0,80}") {
            prop_assert_eq!(ours(&text), askamas(&text));
        }
    }
}
