//! The smallest group Chorus shows (k): "0 of 8" and "8 of 8" would tell
//! what each of the eight did. The organisation sets k, never below 3.

use super::Invalid;

pub const DEFAULT_K: u32 = 5;
pub const MIN_K: u32 = 3;

pub fn parse_k(input: &str) -> Result<u32, Invalid> {
    match input.trim().parse::<u32>() {
        Ok(k) if (MIN_K..=1000).contains(&k) => Ok(k),
        Ok(_) => Err(Invalid::new(format!(
            "The smallest group shown must be at least {MIN_K} people: smaller groups would let people be singled out."
        ))),
        Err(_) => Err(Invalid::new("Enter a whole number of people.")),
    }
}

/// Whether a count of `people` out of a group of `group` clears the k
/// threshold on both sides. Figures about people's participation go through
/// [`super::disclosure_control`] instead, which also shifts them; this plain
/// threshold is for counts that are not answers about people's choices.
pub fn may_show(people: u64, group: u64, k: u32) -> bool {
    let k = k.max(MIN_K) as u64;
    people >= k && group.saturating_sub(people) >= k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_below_three_is_refused_and_never_used() {
        assert!(parse_k("2").is_err() && parse_k("x").is_err());
        assert_eq!(parse_k(" 7 ").unwrap(), 7);
        assert!(!may_show(2, 10, 1), "a stored k below 3 still acts as 3");
        assert!(may_show(3, 10, 1));
    }
}
