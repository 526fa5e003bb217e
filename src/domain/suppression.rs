//! Small-group suppression (k-anonymity) for every aggregate Chorus shows.
//! A count of people is shown only when both the people it counts and the
//! rest of their group number at least k: "0 of 8" and "8 of 8" would tell
//! what each of the eight did. Pure functions, shared by every report.

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

/// One cell of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Shown(u64),
    Suppressed,
}

impl Cell {
    pub fn is_shown(self) -> bool {
        matches!(self, Cell::Shown(_))
    }

    /// As printed in tables and CSV.
    pub fn text(self) -> String {
        match self {
            Cell::Shown(n) => n.to_string(),
            Cell::Suppressed => "suppressed".to_string(),
        }
    }
}

/// Whether `people` out of a group of `group` may be shown.
pub fn may_show(people: u64, group: u64, k: u32) -> bool {
    let k = k.max(MIN_K) as u64;
    people >= k && group.saturating_sub(people) >= k
}

/// A count of people out of a group.
pub fn people_cell(people: u64, group: u64, k: u32) -> Cell {
    if may_show(people, group, k) {
        Cell::Shown(people)
    } else {
        Cell::Suppressed
    }
}

/// A count of events (shares, dismissals) made by `people` out of `group`:
/// shown under the same rule as the people behind it.
pub fn events_cell(events: u64, people: u64, group: u64, k: u32) -> Cell {
    if may_show(people, group, k) {
        Cell::Shown(events)
    } else {
        Cell::Suppressed
    }
}

/// Complementary suppression for cells that add up to a shown total: if
/// exactly one cell is suppressed, it could be worked out as the total minus
/// the others, so the smallest other shown cell is suppressed too (and if
/// there is none, the total). `values` are the true values, in cell order.
/// Returns the cells and whether the total may still be shown.
pub fn complementary(cells: &[Cell], values: &[u64], total_shown: bool) -> (Vec<Cell>, bool) {
    let mut cells = cells.to_vec();
    if !total_shown {
        return (cells, false);
    }
    let suppressed = cells.iter().filter(|c| !c.is_shown()).count();
    if suppressed != 1 {
        return (cells, true);
    }
    let smallest = cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is_shown())
        .min_by_key(|(i, _)| values.get(*i).copied().unwrap_or(0))
        .map(|(i, _)| i);
    match smallest {
        Some(i) => {
            cells[i] = Cell::Suppressed;
            (cells, true)
        }
        None => (cells, false),
    }
}

/// A series over time (weeks): a cell whose change from the previous one is
/// between 1 and k−1 people would show what those few did, so it is
/// suppressed too. `people` are the true people counts behind the cells.
pub fn trend(cells: &[Cell], people: &[u64], k: u32) -> Vec<Cell> {
    let k = k.max(MIN_K) as u64;
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let change = match (i.checked_sub(1).and_then(|b| people.get(b)), people.get(i)) {
                (Some(before), Some(now)) => before.abs_diff(*now),
                _ => 0,
            };
            if change > 0 && change < k {
                Cell::Suppressed
            } else {
                *cell
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_needs_k_people_in_it_and_k_outside_it() {
        let k = 5;
        assert_eq!(people_cell(4, 20, k), Cell::Suppressed, "k-1 counted");
        assert_eq!(people_cell(5, 20, k), Cell::Shown(5), "exactly k");
        assert_eq!(people_cell(15, 20, k), Cell::Shown(15), "group - k");
        assert_eq!(people_cell(16, 20, k), Cell::Suppressed, "only k-1 outside");
        assert_eq!(people_cell(8, 8, k), Cell::Suppressed, "everyone");
        assert_eq!(people_cell(0, 8, k), Cell::Suppressed, "no one");
    }

    #[test]
    fn groups_of_every_size_from_one_to_k_are_always_suppressed() {
        let k = 5;
        for group in 1..=(2 * k as u64 - 1) {
            for people in 0..=group {
                assert_eq!(
                    people_cell(people, group, k),
                    Cell::Suppressed,
                    "{people} of {group}"
                );
            }
        }
    }

    #[test]
    fn event_counts_follow_the_people_behind_them() {
        assert_eq!(
            events_cell(40, 4, 100, 5),
            Cell::Suppressed,
            "40 shares by 4 people"
        );
        assert_eq!(events_cell(40, 6, 100, 5), Cell::Shown(40));
    }

    #[test]
    fn k_below_three_is_refused_and_never_used() {
        assert!(parse_k("2").is_err() && parse_k("x").is_err());
        assert_eq!(parse_k(" 7 ").unwrap(), 7);
        assert_eq!(
            people_cell(2, 10, 1),
            Cell::Suppressed,
            "a stored k below 3 still acts as 3"
        );
    }

    #[test]
    fn a_lone_suppressed_cell_takes_the_smallest_other_with_it() {
        let values = [12, 3, 30, 9];
        let cells: Vec<Cell> = values.iter().map(|v| people_cell(*v, 100, 5)).collect();
        assert_eq!(cells[1], Cell::Suppressed);
        let (after, total) = complementary(&cells, &values, true);
        assert!(total);
        assert_eq!(
            after,
            vec![
                Cell::Shown(12),
                Cell::Suppressed,
                Cell::Shown(30),
                Cell::Suppressed
            ]
        );
        // The hidden value can no longer be worked out from the total.
        assert_eq!(after.iter().filter(|c| !c.is_shown()).count(), 2);
    }

    #[test]
    fn complementary_suppression_hides_the_total_when_nothing_else_can_go() {
        let (after, total) = complementary(&[Cell::Suppressed], &[2], true);
        assert_eq!(after, vec![Cell::Suppressed]);
        assert!(!total);
        let cells = [Cell::Shown(10), Cell::Shown(20)];
        assert_eq!(
            complementary(&cells, &[10, 20], true),
            (cells.to_vec(), true)
        );
        let cells = [Cell::Suppressed, Cell::Suppressed, Cell::Shown(20)];
        assert_eq!(
            complementary(&cells, &[1, 2, 20], true).0,
            cells.to_vec(),
            "two hidden: safe"
        );
    }

    #[test]
    fn a_trend_step_of_fewer_than_k_people_is_suppressed() {
        let people = [20, 22, 30, 30, 26];
        let cells: Vec<Cell> = people.iter().map(|p| people_cell(*p, 100, 5)).collect();
        let after = trend(&cells, &people, 5);
        assert_eq!(after[0], Cell::Shown(20));
        assert_eq!(after[1], Cell::Suppressed, "+2 would reveal two people");
        assert_eq!(after[2], Cell::Shown(30), "+8 is enough");
        assert_eq!(after[3], Cell::Shown(30), "no change reveals nobody");
        assert_eq!(after[4], Cell::Suppressed, "-4");
    }

    #[test]
    fn suppression_properties_hold_for_many_groups() {
        // Exhaustive over small sizes: a shown cell always has k people in
        // and k out; complementary suppression never leaves exactly one hidden.
        for k in 3..=6_u32 {
            for group in 0..40_u64 {
                for people in 0..=group {
                    if let Cell::Shown(n) = people_cell(people, group, k) {
                        assert!(n >= k as u64 && group - n >= k as u64);
                    }
                }
            }
        }
        for a in 0..12_u64 {
            for b in 0..12_u64 {
                let values = [a, b, 10];
                let cells: Vec<Cell> = values.iter().map(|v| people_cell(*v, 30, 5)).collect();
                let (after, total) = complementary(&cells, &values, true);
                let hidden = after.iter().filter(|c| !c.is_shown()).count();
                assert!(hidden != 1 || !total, "{values:?}");
            }
        }
    }
}
