//! The one path every figure shown to admins and comms goes through: the
//! cell-key method of statistical disclosure control (the Australian
//! Bureau of Statistics' TableBuilder method), with small-group suppression.
//!
//! Each person has a secret random record key. A figure's cell key is made
//! from three things: the record keys of the people it counts, the record
//! keys of everyone in the group it describes (counted or not), and what
//! the figure is (measure, post, platform, week). The cell key picks a
//! small shift (zero most often, within ±2 nine times in ten; see
//! [`shift_probability`]) that is added to the true count.
//! The same figure asked for again gets the same shift, so repeating a
//! request averages nothing away; moving anyone in or out of a group gives
//! every figure of that group a fresh shift, whatever that person chose, so
//! a change between two reads does not tell what the moved person chose.
//!
//! A count is shown only when the true count and the shifted one both leave
//! at least k people in it and k out of it. Deciding on the shifted count
//! too matters: a threshold on true counts alone would tell exactly what a
//! moved person chose whenever a move pushes a figure across it.

use std::fmt;

/// Shifts follow a two-sided geometric (discrete Laplace) law: a shift of
/// s is drawn with probability 3/7 × (2/5)^|s|. Zero comes 3 times in 7,
/// nine shifts in ten are within ±2, and no shift is impossible, so no
/// published figure ever rules a value out: a bounded table (at most ±2)
/// would let a difference of two reads prove a choice whenever both
/// shifts hit opposite ends. One person more or less changes the odds of
/// any answer by at most 5/2.
const ZERO: (u128, u128) = (3, 7);
const FURTHER: (u128, u128) = (2, 5);
/// Magnitudes stop here (reached with odds below 10^-27).
const LONGEST: i64 = 64;

/// How often shifts stay small, as said on every page that shows figures.
pub const USUALLY_WITHIN: u64 = 2;

/// The probability of each shift: the method is public, only the record
/// keys are secret.
pub fn shift_probability(shift: i64) -> f64 {
    let zero = ZERO.0 as f64 / ZERO.1 as f64;
    zero * (FURTHER.0 as f64 / FURTHER.1 as f64).powi(shift.unsigned_abs().min(1000) as i32)
}

/// What a figure counts. The numbers are part of every cell key: never
/// renumber one, or every published figure changes (and an admin who read
/// both could average the two shifts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Measure {
    /// People opted in to a platform.
    OptedIn = 1,
    /// Shares of a post on a platform.
    PostShares = 2,
    /// People who shared a post on a platform (decides whether its shares show).
    PostPlatformSharers = 3,
    /// People who shared a post on any of a set of platforms.
    PostSharers = 4,
    /// People who dismissed a post.
    PostDismissals = 5,
    /// Shares in a week on a set of platforms.
    WeekShares = 6,
    /// People who shared in a week on a set of platforms.
    WeekSharers = 7,
    /// People who shared on a set of platforms since a day.
    PeriodSharers = 8,
    /// People opted in to at least one of a set of platforms.
    OptedInAny = 9,
}

/// One figure's identity: a measure and the parts that tell it apart from
/// others of the same measure (a post id, a platform set, a week's start).
/// Filters that do not change what is counted are not part of it, so the
/// same figure reached through another view gets the same shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure(u64);

impl Figure {
    pub fn new(measure: Measure, parts: &[i64]) -> Figure {
        let start = mix(measure as u64 ^ 0x6368_6f72_7573_2121);
        Figure(parts.iter().fold(start, |h, part| {
            mix(h ^ mix(*part as u64 ^ 0x9e37_79b9_7f4a_7c15))
        }))
    }
}

/// A person's secret random record key, as stored with their account.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecordKey(u64);

impl RecordKey {
    pub fn new(stored: i64) -> RecordKey {
        RecordKey(stored as u64)
    }

    /// What a person adds to a group's key: independent of what they add
    /// to the key of a count they are in.
    fn as_member(self) -> u64 {
        mix(self.0 ^ 0x5bd1_e995_5bd1_e995)
    }
}

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordKey(..)")
    }
}

/// A set of people as the cell key sees it: how many, and the sum of their
/// record keys (order does not matter, so it can be added up in any pass).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct People {
    count: u64,
    keys: u64,
}

impl People {
    pub fn add(&mut self, key: RecordKey) {
        self.count += 1;
        self.keys = self.keys.wrapping_add(key.0);
    }

    pub fn merge(&mut self, other: &People) {
        self.count += other.count;
        self.keys = self.keys.wrapping_add(other.keys);
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// A group of people a figure describes (a department, the whole
/// organisation, a post's audience).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Group {
    size: u64,
    keys: u64,
}

impl Group {
    pub fn add(&mut self, key: RecordKey) {
        self.size += 1;
        self.keys = self.keys.wrapping_add(key.as_member());
    }

    pub fn merge(&mut self, other: &Group) {
        self.size += other.size;
        self.keys = self.keys.wrapping_add(other.keys);
    }

    pub fn size(&self) -> u64 {
        self.size
    }
}

/// One published cell: a shifted count, or hidden. Only [`Disclosure`]
/// makes a shown one, so no view can publish a raw count by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell(Option<u64>);

impl Cell {
    pub const HIDDEN: Cell = Cell(None);

    pub fn is_shown(self) -> bool {
        self.0.is_some()
    }

    pub fn value(self) -> Option<u64> {
        self.0
    }

    /// As printed in tables and CSV.
    pub fn text(self) -> String {
        match self.0 {
            Some(n) => n.to_string(),
            None => "suppressed".to_string(),
        }
    }

    /// This cell's share of `whole`, as a whole percentage ("" when hidden).
    pub fn percent_of(self, whole: u64) -> String {
        self.0
            .and_then(|part| (part * 100 + whole / 2).checked_div(whole))
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "suppressed".into())
    }
}

/// The disclosure rules of one organisation: its k (at least 3).
#[derive(Debug, Clone, Copy)]
pub struct Disclosure {
    k: u64,
}

impl Disclosure {
    pub fn new(k: u32) -> Disclosure {
        Disclosure {
            k: k.max(super::suppression::MIN_K) as u64,
        }
    }

    /// A count of people out of a group.
    pub fn people(&self, figure: Figure, counted: &People, group: &Group) -> Cell {
        let shifted = shifted(counted.count, shift(figure, counted, group));
        if self.leaves_k_each_side(counted.count, group.size)
            && self.leaves_k_each_side(shifted, group.size)
        {
            Cell(Some(shifted))
        } else {
            Cell::HIDDEN
        }
    }

    /// A figure about which no one could have done anything: nothing was
    /// offered to the group (no post was in their queues), so its count is
    /// 0 whoever is in it. Decided from the hub's own facts only, never
    /// from what people did, it tells nothing about anyone, and it is
    /// shown as 0 rather than hidden: "no activity" is not "fewer than k".
    pub fn nothing_offered(&self) -> Cell {
        Cell(Some(0))
    }

    /// A count of events (shares) made by the `counted` people: shown when
    /// the count of those people would be, shifted on its own, and never
    /// below k (at least k people made them, so at least k events).
    pub fn events(&self, figure: Figure, events: u64, counted: &People, group: &Group) -> Cell {
        let people = Figure(mix(figure.0 ^ 0x7065_6f70_6c65_2121));
        if self.people(people, counted, group).is_shown() {
            Cell(Some(
                shifted(events, shift(figure, counted, group)).max(self.k),
            ))
        } else {
            Cell::HIDDEN
        }
    }

    fn leaves_k_each_side(&self, count: u64, group: u64) -> bool {
        count >= self.k && group.saturating_sub(count) >= self.k
    }
}

/// Complementary suppression for cells that add up to a shown total: if
/// exactly one cell is hidden, the total minus the others would come near
/// it, so the smallest other shown cell is hidden too (and if there is
/// none, the total). Returns the cells and whether the total may be shown.
pub fn complementary(cells: &[Cell], total_shown: bool) -> (Vec<Cell>, bool) {
    let mut cells = cells.to_vec();
    if !total_shown || cells.iter().filter(|c| !c.is_shown()).count() != 1 {
        return (cells, total_shown);
    }
    let smallest = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.value().map(|v| (i, v)))
        .min_by_key(|(_, v)| *v)
        .map(|(i, _)| i);
    match smallest {
        Some(i) => {
            cells[i] = Cell::HIDDEN;
            (cells, true)
        }
        None => (cells, false),
    }
}

fn shifted(count: u64, shift: i64) -> u64 {
    count.saturating_add_signed(shift)
}

fn shift(figure: Figure, counted: &People, group: &Group) -> i64 {
    let cell_key = mix(figure.0 ^ mix(counted.keys ^ mix(group.keys ^ group.size)));
    // Each draw is a uniform number below 2^64 from the cell key, compared
    // with exact fractions: no floating point, the same on every machine.
    let draw = |n: u64| mix(cell_key.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15))) as u128;
    let below = |x: u128, (num, den): (u128, u128)| x * den < num << 64;
    if below(draw(0), ZERO) {
        return 0;
    }
    let mut magnitude = 1;
    while magnitude < LONGEST && below(draw(magnitude as u64 + 1), FURTHER) {
        magnitude += 1;
    }
    if draw(LONGEST as u64 + 2) & 1 == 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// SplitMix64's finaliser: a fixed, well-mixed function of 64 bits, so the
/// same figure gets the same shift on every machine and every release.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(keys: impl IntoIterator<Item = i64>) -> People {
        let mut set = People::default();
        for key in keys {
            set.add(RecordKey::new(key));
        }
        set
    }

    fn group(keys: impl IntoIterator<Item = i64>) -> Group {
        let mut set = Group::default();
        for key in keys {
            set.add(RecordKey::new(key));
        }
        set
    }

    fn key(i: i64) -> i64 {
        mix(i as u64 ^ 0xabcdef) as i64
    }

    #[test]
    fn shifts_are_zero_most_often_and_within_two_nine_times_in_ten() {
        let draws = 50_000;
        let mut seen = std::collections::HashMap::new();
        for i in 0..draws {
            let figure = Figure::new(Measure::OptedIn, &[i]);
            *seen
                .entry(shift(figure, &people([key(i)]), &group([key(i + 1)])))
                .or_insert(0) += 1;
        }
        let share = |s: i64| seen.get(&s).copied().unwrap_or(0) as f64 / draws as f64;
        for s in -4..=4 {
            assert!(
                (share(s) - shift_probability(s)).abs() < 0.01,
                "{s}: {} against {}",
                share(s),
                shift_probability(s)
            );
        }
        let small: f64 = (-2..=2).map(share).sum();
        assert!(small > 0.89, "{seen:?}");
        assert!(share(0) > share(1) && share(0) > share(-1));
        let total: f64 = (-60..=60).map(shift_probability).sum();
        assert!((total - 1.0).abs() < 1e-9, "the law adds up to {total}");
    }

    #[test]
    fn the_same_figure_always_gets_the_same_answer_in_any_order() {
        let rules = Disclosure::new(5);
        let figure = Figure::new(Measure::OptedIn, &[3]);
        let everyone = group((0..40).map(key));
        let first = rules.people(figure, &people((0..20).map(key)), &everyone);
        let again = rules.people(figure, &people((0..20).rev().map(key)), &everyone);
        assert_eq!(first, again);
        assert!(first.is_shown());
        assert!(first.value().unwrap().abs_diff(20) <= 15);
    }

    #[test]
    fn moving_someone_who_is_not_counted_still_changes_the_shift() {
        // The group's key holds everyone in it: the figure gets a fresh
        // shift when a person who said no moves in, as when one who said
        // yes does, so the change itself tells nothing.
        let figure = Figure::new(Measure::OptedIn, &[1]);
        let counted = people((0..20).map(key));
        let mut changed = 0;
        for newcomer in 100..400 {
            let before = shift(figure, &counted, &group((0..40).map(key)));
            let after = shift(figure, &counted, &group((0..40).chain([newcomer]).map(key)));
            changed += (before != after) as u32;
        }
        assert!(changed > 150, "{changed} of 300 moves changed the shift");
    }

    #[test]
    fn a_count_is_shown_only_with_k_people_in_it_and_k_out_of_it_before_and_after_the_shift() {
        let rules = Disclosure::new(5);
        for size in 1..40_i64 {
            for count in 0..=size {
                for variant in 0..20 {
                    let figure = Figure::new(Measure::OptedIn, &[variant]);
                    let cell = rules.people(
                        figure,
                        &people((0..count).map(key)),
                        &group((0..size).map(key)),
                    );
                    if let Some(shown) = cell.value() {
                        assert!(count >= 5 && size - count >= 5, "{count} of {size}");
                        assert!(shown >= 5 && size as u64 - shown >= 5, "{shown} of {size}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_stored_k_below_three_still_acts_as_three() {
        let rules = Disclosure::new(1);
        let cell = rules.people(
            Figure::new(Measure::OptedIn, &[0]),
            &people((0..2).map(key)),
            &group((0..10).map(key)),
        );
        assert!(!cell.is_shown());
    }

    #[test]
    fn event_counts_follow_the_people_behind_them() {
        let rules = Disclosure::new(5);
        let figure = Figure::new(Measure::PostShares, &[1, 2]);
        let few = rules.events(
            figure,
            40,
            &people((0..4).map(key)),
            &group((0..100).map(key)),
        );
        assert!(!few.is_shown(), "40 shares by 4 people");
        let many = rules.events(
            figure,
            40,
            &people((0..30).map(key)),
            &group((0..100).map(key)),
        );
        assert!(many.value().unwrap().abs_diff(40) <= 15);
        for variant in 0..200 {
            let figure = Figure::new(Measure::PostShares, &[variant]);
            let few = rules.events(
                figure,
                5,
                &people((0..5).map(key)),
                &group((0..100).map(key)),
            );
            assert!(few.value().is_none_or(|shown| shown >= 5), "{few:?}");
        }
    }

    #[test]
    fn a_lone_hidden_cell_takes_the_smallest_other_with_it() {
        let cells = [Cell(Some(12)), Cell::HIDDEN, Cell(Some(30)), Cell(Some(9))];
        let (after, total) = complementary(&cells, true);
        assert!(total);
        assert_eq!(
            after,
            vec![Cell(Some(12)), Cell::HIDDEN, Cell(Some(30)), Cell::HIDDEN]
        );
        let (after, total) = complementary(&[Cell::HIDDEN], true);
        assert_eq!(after, vec![Cell::HIDDEN]);
        assert!(!total, "nothing else to hide: the total goes");
        let two = [Cell::HIDDEN, Cell::HIDDEN, Cell(Some(20))];
        assert_eq!(
            complementary(&two, true).0,
            two.to_vec(),
            "two hidden: safe"
        );
    }

    #[test]
    fn percentages_come_from_the_published_count() {
        assert_eq!(Cell(Some(7)).percent_of(20), "35%");
        assert_eq!(Cell::HIDDEN.percent_of(20), "suppressed");
    }
}
