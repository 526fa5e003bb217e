//! The organisation's colour, as emails show it: a band with its name and
//! the buttons, with text in black or white, whichever reads better on it.

/// The colour Chorus uses until an admin picks one (the product's own).
pub const DEFAULT_COLOUR: &str = "#1f4e79";

/// A colour written `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandColour(String);

#[derive(Debug, PartialEq, Eq)]
pub struct BrandColourError;

impl std::fmt::Display for BrandColourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enter a colour as # and six hexadecimal digits, like #1f4e79.")
    }
}

impl BrandColour {
    /// `#1F4E79`, `1f4e79` and ` #1f4e79 ` all give `#1f4e79`.
    pub fn parse(typed: &str) -> Result<BrandColour, BrandColourError> {
        let typed = typed.trim();
        let digits = typed.strip_prefix('#').unwrap_or(typed);
        if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(BrandColourError);
        }
        Ok(BrandColour(format!("#{}", digits.to_ascii_lowercase())))
    }

    /// A stored colour; the default if it is somehow not one.
    pub fn from_stored(stored: &str) -> BrandColour {
        BrandColour::parse(stored).unwrap_or_else(|_| BrandColour(DEFAULT_COLOUR.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Black or white, whichever has the higher contrast ratio on this
    /// colour (WCAG 2.2 relative luminance).
    pub fn ink(&self) -> &'static str {
        let channel = |i: usize| {
            let value = u8::from_str_radix(&self.0[i..i + 2], 16).unwrap_or(0);
            let c = f64::from(value) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
        // Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
        if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
            "#ffffff"
        } else {
            "#000000"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colour_is_kept_in_one_written_form() {
        assert_eq!(BrandColour::parse(" #1F4E79 ").unwrap().as_str(), "#1f4e79");
        assert_eq!(BrandColour::parse("ffcc00").unwrap().as_str(), "#ffcc00");
    }

    #[test]
    fn names_short_forms_and_markup_are_refused() {
        for typed in [
            "red",
            "#fff",
            "#12345g",
            "",
            "#1f4e79\"><script>",
            "#1f4e7900",
        ] {
            assert_eq!(BrandColour::parse(typed), Err(BrandColourError), "{typed}");
        }
    }

    #[test]
    fn text_is_white_on_dark_colours_and_black_on_light_ones() {
        assert_eq!(BrandColour::parse("#1f4e79").unwrap().ink(), "#ffffff");
        assert_eq!(BrandColour::parse("#000000").unwrap().ink(), "#ffffff");
        assert_eq!(BrandColour::parse("#ffcc00").unwrap().ink(), "#000000");
        assert_eq!(BrandColour::parse("#ffffff").unwrap().ink(), "#000000");
    }
}
