//! The counting behind the reports, one range of people and then one
//! person at a time: people and posts get dense indexes (a table when their
//! ids are compact, as database ids are), and distinct people and distinct
//! (post, person) pairs are found among one person's own rows, so no
//! person, share or dismissal needs to be held once counted and memory
//! grows with the posts, not with the people or their shares.

use std::collections::HashMap;

use super::{Employee, Facts, Filters, Week};
use crate::domain::disclosure_control::{Group, People, RecordKey};
use crate::domain::platforms::Platform;

/// Dense indexes 0..n for a list of ids.
enum IdIndex {
    /// ids from `first`, looked up in a table (u32::MAX: not listed).
    Table {
        first: i64,
        slots: Vec<u32>,
    },
    Map(HashMap<i64, u32>),
}

impl IdIndex {
    fn new(ids: impl Iterator<Item = i64> + Clone) -> IdIndex {
        let (count, min, max) = ids
            .clone()
            .fold((0_usize, i64::MAX, i64::MIN), |(n, lo, hi), id| {
                (n + 1, lo.min(id), hi.max(id))
            });
        // A table while it costs at most a few slots per id.
        let span = max.checked_sub(min).and_then(|s| usize::try_from(s).ok());
        match span {
            Some(span) if span <= 4 * count + 1024 => {
                let mut slots = vec![u32::MAX; span + 1];
                for (i, id) in ids.enumerate() {
                    slots[(id - min) as usize] = i as u32;
                }
                IdIndex::Table { first: min, slots }
            }
            _ => IdIndex::Map(ids.enumerate().map(|(i, id)| (id, i as u32)).collect()),
        }
    }

    fn get(&self, id: i64) -> Option<usize> {
        match self {
            IdIndex::Table { first, slots } => id
                .checked_sub(*first)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| slots.get(i))
                .filter(|slot| **slot != u32::MAX)
                .map(|slot| *slot as usize),
            IdIndex::Map(map) => map.get(&id).map(|slot| *slot as usize),
        }
    }
}

/// A set of people, one bit each.
struct PeopleSet {
    words: Vec<u64>,
}

impl PeopleSet {
    fn new(people: usize) -> PeopleSet {
        PeopleSet {
            words: vec![0; people.div_ceil(64)],
        }
    }

    /// Adds a person; true when they were not in the set yet.
    fn insert(&mut self, person: usize) -> bool {
        let (word, bit) = (person / 64, 1_u64 << (person % 64));
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        new
    }
}

/// The active employees of the range being counted: their department,
/// record key and whether the filters count them.
struct Employees {
    index: IdIndex,
    department: Vec<Option<i64>>,
    key: Vec<RecordKey>,
    in_population: Vec<bool>,
}

impl Employees {
    fn new(employees: &[Employee], filters: &Filters) -> Employees {
        // A person listed twice keeps their last department, as a map would.
        let index = IdIndex::new(employees.iter().map(|e| e.id));
        let mut department = vec![None; employees.len()];
        let mut key = vec![RecordKey::new(0); employees.len()];
        for e in employees {
            if let Some(i) = index.get(e.id) {
                department[i] = e.department;
                key[i] = e.record_key;
            }
        }
        let in_population = department
            .iter()
            .map(|d| filters.department.is_none() || *d == filters.department)
            .collect();
        Employees {
            index,
            department,
            key,
            in_population,
        }
    }

    fn get(&self, id: i64) -> Option<usize> {
        self.index.get(id)
    }

    fn len(&self) -> usize {
        self.department.len()
    }
}

/// Which posts each person's department sees.
struct Audiences<'a> {
    index: IdIndex,
    /// None: everyone; Some: these departments.
    departments: Vec<Option<&'a [i64]>>,
}

impl<'a> Audiences<'a> {
    fn new(facts: &'a Facts) -> Audiences<'a> {
        let index = IdIndex::new(facts.posts.iter().map(|p| p.id));
        let mut departments = vec![None; facts.posts.len()];
        for post in &facts.posts {
            if let Some(i) = index.get(post.id) {
                departments[i] = post.departments.as_deref();
            }
        }
        Audiences { index, departments }
    }

    /// The post's index when the person (in the population) is in its audience.
    fn reaches(&self, post: i64, department: Option<i64>) -> Option<usize> {
        let i = self.index.get(post)?;
        match self.departments[i] {
            None => Some(i),
            Some(ds) => department.filter(|d| ds.contains(d)).map(|_| i),
        }
    }
}

/// Which week (by index) holds a moment.
struct Calendar<'a> {
    weeks: &'a [Week],
    /// Weeks in order without overlaps: found by binary search.
    ordered: bool,
}

impl<'a> Calendar<'a> {
    fn new(weeks: &'a [Week]) -> Calendar<'a> {
        let ordered = weeks.windows(2).all(|w| w[0].end <= w[1].start)
            && weeks.iter().all(|w| w.start <= w.end);
        Calendar { weeks, ordered }
    }

    fn each_week_of(&self, at: chrono::NaiveDateTime, mut f: impl FnMut(usize)) {
        if self.ordered {
            let i = self.weeks.partition_point(|w| w.end <= at);
            if i < self.weeks.len() && self.weeks[i].start <= at {
                f(i);
            }
        } else {
            for (i, week) in self.weeks.iter().enumerate() {
                if at >= week.start && at < week.end {
                    f(i);
                }
            }
        }
    }
}

/// Everything the report tables need from shares and dismissals. Indexes
/// are: posts in facts.posts order, `i` the platform's place in the
/// filters, `w` the week's place in the calendar.
/// Sets of people are [`People`]: how many, with their record keys summed
/// for the cell key.
pub(super) struct Counts {
    platforms: usize,
    post_events: Vec<u64>,
    post_people: Vec<People>,
    pub post_sharers: Vec<People>,
    pub post_dismissals: Vec<People>,
    week_events: Vec<u64>,
    week_platform_people: Vec<People>,
    pub week_people: Vec<People>,
    /// People who shared on a chosen platform, per department (any population).
    pub department_sharers: HashMap<Option<i64>, People>,
    /// People of the population who shared anything.
    pub population_sharers: People,
    /// People of the population opted in, per platform.
    pub opted_population: HashMap<Platform, People>,
    /// Employees opted in, per department and platform.
    pub opted_department: HashMap<(Option<i64>, Platform), People>,
    /// People of the population opted in to at least one chosen platform.
    pub opted_any: People,
    /// Active employees per department (None: no department), as groups.
    pub departments: HashMap<Option<i64>, Group>,
}

impl Counts {
    pub fn post_events(&self, post: usize, i: usize) -> u64 {
        self.post_events[post * self.platforms + i]
    }
    pub fn post_people(&self, post: usize, i: usize) -> &People {
        &self.post_people[post * self.platforms + i]
    }
    pub fn week_events(&self, w: usize, i: usize) -> u64 {
        self.week_events[w * self.platforms + i]
    }
    pub fn week_platform_people(&self, w: usize, i: usize) -> &People {
        &self.week_platform_people[w * self.platforms + i]
    }
}

/// One share of a person as the tally takes it: (post, platform, when).
pub type PersonShare = (i64, Platform, chrono::NaiveDateTime);

/// Takes the rows the reports count about people, a range of people at a
/// time, so that none needs to be held once counted: the range's active
/// employees and their consents first ([`PersonRows::people`]), then the
/// shares of each person of the range in one call each, then each one's
/// dismissals. A store streams them straight from queries by person.
pub trait PersonRows {
    /// Starts a range: its active employees and who of them is opted in
    /// (rows of people outside the range are not theirs).
    fn people(&mut self, employees: &[Employee], opted_in: &[(i64, Platform)]);
    /// Every share one person of the range made since the period began.
    fn shares_of(&mut self, user: i64, shares: &[PersonShare]);
    /// Every post one person of the range dismissed.
    fn dismissals_of(&mut self, user: i64, posts: &[i64]);
}

/// The counts, taken a range of people and then one person at a time:
/// every share and every dismissal of a person comes in one call each, so
/// distinct people and distinct (post, person) pairs are found among that
/// person's few rows, and no row is kept once counted. The rows can then
/// come straight from queries ordered by person, however many there are.
pub struct Tally<'a> {
    pub(super) facts: &'a Facts,
    pub(super) filters: &'a Filters,
    pub(super) calendar_weeks: &'a [Week],
    calendar: Calendar<'a>,
    weeks: usize,
    people: Employees,
    audiences: Audiences<'a>,
    /// The platform's place in the filters, by platform.
    place: [Option<usize>; Platform::ALL.len()],
    counts: Counts,
    /// People whose shares, and whose dismissals, were counted: each once.
    shares_seen: PeopleSet,
    dismissals_seen: PeopleSet,
    /// Scratch space for one person's rows.
    pairs: Vec<(usize, usize)>,
    week_marks: Vec<bool>,
}

impl<'a> Tally<'a> {
    pub fn new(facts: &'a Facts, filters: &'a Filters, weeks: &'a [Week]) -> Tally<'a> {
        let platforms = filters.platforms.len();
        let mut place = [None; Platform::ALL.len()];
        for (i, p) in filters.platforms.iter().enumerate() {
            place[*p as usize] = Some(i);
        }
        let posts = facts.posts.len();
        let counts = Counts {
            platforms,
            post_events: vec![0; posts * platforms],
            post_people: vec![People::default(); posts * platforms],
            post_sharers: vec![People::default(); posts],
            post_dismissals: vec![People::default(); posts],
            week_events: vec![0; weeks.len() * platforms],
            week_platform_people: vec![People::default(); weeks.len() * platforms],
            week_people: vec![People::default(); weeks.len()],
            department_sharers: HashMap::new(),
            population_sharers: People::default(),
            opted_population: HashMap::new(),
            opted_department: HashMap::new(),
            opted_any: People::default(),
            departments: HashMap::new(),
        };
        Tally {
            facts,
            filters,
            calendar_weeks: weeks,
            calendar: Calendar::new(weeks),
            weeks: weeks.len(),
            shares_seen: PeopleSet::new(0),
            dismissals_seen: PeopleSet::new(0),
            people: Employees::new(&[], filters),
            audiences: Audiences::new(facts),
            place,
            counts,
            pairs: Vec::new(),
            week_marks: vec![false; weeks.len() * (platforms + 1)],
        }
    }

    /// Starts counting a range of people (see [`PersonRows`]): the
    /// departments' members and who is opted in, per department and
    /// platform. Shares and dismissals counted next are of these people.
    pub fn add_people(&mut self, employees: &[Employee], opted_in: &[(i64, Platform)]) {
        let people = Employees::new(employees, self.filters);
        let counts = &mut self.counts;
        for e in employees {
            counts
                .departments
                .entry(e.department)
                .or_default()
                .add(e.record_key);
        }
        let mut opted: Vec<(usize, Platform)> = opted_in
            .iter()
            .filter_map(|(u, platform)| people.get(*u).map(|person| (person, *platform)))
            .collect();
        opted.sort_unstable_by_key(|(person, platform)| (*person, *platform as u8));
        opted.dedup();
        let mut counted_any = None;
        for (person, platform) in opted {
            let key = people.key[person];
            counts
                .opted_department
                .entry((people.department[person], platform))
                .or_default()
                .add(key);
            if people.in_population[person] {
                counts
                    .opted_population
                    .entry(platform)
                    .or_default()
                    .add(key);
                if self.place[platform as usize].is_some() && counted_any != Some(person) {
                    counts.opted_any.add(key);
                    counted_any = Some(person);
                }
            }
        }
        self.shares_seen = PeopleSet::new(people.len());
        self.dismissals_seen = PeopleSet::new(people.len());
        self.people = people;
    }

    /// Counts every share `user` made since the period began (in any
    /// order). Each person's shares come in one call.
    pub fn add_shares_of(&mut self, user: i64, shares: &[PersonShare]) {
        let Some(person) = self.people.get(user) else {
            return;
        };
        if shares.is_empty() {
            return;
        }
        let first_time = self.shares_seen.insert(person);
        debug_assert!(first_time, "every share of a person comes in one call");
        let key = self.people.key[person];
        let counted = self.people.in_population[person];
        if counted {
            self.counts.population_sharers.add(key);
        }
        let platforms = self.counts.platforms;
        let calendar = &self.calendar;
        let week_marks = self.weeks * platforms;
        let department = self.people.department[person];
        let mut chosen = false;
        self.pairs.clear();
        self.week_marks.fill(false);
        for (post, platform, at) in shares {
            let Some(i) = self.place[*platform as usize] else {
                continue;
            };
            chosen = true;
            if !counted {
                continue;
            }
            if let Some(post) = self.audiences.reaches(*post, department) {
                self.pairs.push((post, i));
            }
            let counts = &mut self.counts;
            let marks = &mut self.week_marks;
            calendar.each_week_of(*at, |w| {
                counts.week_events[w * platforms + i] += 1;
                if !std::mem::replace(&mut marks[w * platforms + i], true) {
                    counts.week_platform_people[w * platforms + i].add(key);
                }
                // After the weeks × platforms marks, one per week.
                if !std::mem::replace(&mut marks[week_marks + w], true) {
                    counts.week_people[w].add(key);
                }
            });
        }
        if chosen {
            self.counts
                .department_sharers
                .entry(department)
                .or_default()
                .add(key);
        }
        // Sorted, a (post, platform) repeats only next to itself, and a post
        // only next to its other platforms.
        self.pairs.sort_unstable();
        let mut previous: Option<(usize, usize)> = None;
        for &(post, i) in &self.pairs {
            self.counts.post_events[post * platforms + i] += 1;
            if previous != Some((post, i)) {
                self.counts.post_people[post * platforms + i].add(key);
            }
            if previous.is_none_or(|(p, _)| p != post) {
                self.counts.post_sharers[post].add(key);
            }
            previous = Some((post, i));
        }
    }

    /// Counts the posts `user` dismissed (in any order). Each person's
    /// dismissals come in one call.
    pub fn add_dismissals_of(&mut self, user: i64, posts: &[i64]) {
        let Some(person) = self.people.get(user) else {
            return;
        };
        let first_time = self.dismissals_seen.insert(person);
        debug_assert!(first_time, "every dismissal of a person comes in one call");
        if !self.people.in_population[person] {
            return;
        }
        let department = self.people.department[person];
        self.pairs.clear();
        self.pairs.extend(
            posts
                .iter()
                .filter_map(|post| self.audiences.reaches(*post, department))
                .map(|post| (post, 0)),
        );
        self.pairs.sort_unstable();
        self.pairs.dedup();
        let key = self.people.key[person];
        for &(post, _) in &self.pairs {
            self.counts.post_dismissals[post].add(key);
        }
    }

    /// Counts the rows at hand in `facts` (people, their shares and
    /// dismissals, in any order) as one range of people.
    pub fn add_rows_of_facts(&mut self) {
        let facts = self.facts;
        self.add_people(&facts.employees, &facts.opted_in);
        let mut shares: Vec<&(i64, i64, Platform, chrono::NaiveDateTime)> =
            facts.shares.iter().collect();
        shares.sort_by_key(|s| s.0);
        let mut theirs = Vec::new();
        for person in shares.chunk_by(|a, b| a.0 == b.0) {
            theirs.clear();
            theirs.extend(
                person
                    .iter()
                    .map(|(_, p, platform, at)| (*p, *platform, *at)),
            );
            self.add_shares_of(person[0].0, &theirs);
        }
        let mut dismissals = facts.dismissals.clone();
        dismissals.sort_unstable();
        for person in dismissals.chunk_by(|a, b| a.0 == b.0) {
            let posts: Vec<i64> = person.iter().map(|(_, post)| *post).collect();
            self.add_dismissals_of(person[0].0, &posts);
        }
    }

    /// The counts.
    pub(super) fn finish(self) -> Counts {
        self.counts
    }
}

impl PersonRows for Tally<'_> {
    fn people(&mut self, employees: &[Employee], opted_in: &[(i64, Platform)]) {
        self.add_people(employees, opted_in);
    }

    fn shares_of(&mut self, user: i64, shares: &[PersonShare]) {
        self.add_shares_of(user, shares);
    }

    fn dismissals_of(&mut self, user: i64, posts: &[i64]) {
        self.add_dismissals_of(user, posts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_far_apart_are_indexed_as_well_as_compact_ones() {
        let compact = IdIndex::new([7_i64, 3, 5].into_iter());
        let sparse = IdIndex::new([7_i64, -3, 5_000_000_000].into_iter());
        assert!(matches!(compact, IdIndex::Table { .. }));
        assert!(matches!(sparse, IdIndex::Map(_)));
        assert_eq!(
            [7, 3, 5, 4, 8].map(|id| compact.get(id)),
            [Some(0), Some(1), Some(2), None, None]
        );
        assert_eq!(
            [7, -3, 5_000_000_000, 0, i64::MIN].map(|id| sparse.get(id)),
            [Some(0), Some(1), Some(2), None, None]
        );
        let empty = IdIndex::new(std::iter::empty());
        assert_eq!(empty.get(1), None);
    }

    #[test]
    fn a_person_counts_once_in_a_set_however_often_added() {
        let mut set = PeopleSet::new(130);
        assert!(set.insert(129));
        assert!(!set.insert(129));
        assert!(set.insert(0));
        assert!(set.insert(64) && !set.insert(0));
    }
}
