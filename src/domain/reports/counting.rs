//! The counting behind the reports, in one pass over the shares: people and
//! posts get dense indexes (a table when their ids are compact, as database
//! ids are), distinct people are bits, and distinct (post, person) pairs are
//! found by sorting one vector of packed integers. A million shares count in
//! tens of milliseconds and a few megabytes.

use std::collections::HashMap;

use super::{Facts, Filters, Week};
use crate::domain::disclosure_control::{People, RecordKey};
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

    fn contains(&self, person: usize) -> bool {
        self.words[person / 64] & (1 << (person % 64)) != 0
    }
}

/// The active employees: their department, record key and whether the
/// filters count them.
pub(super) struct Employees {
    index: IdIndex,
    pub department: Vec<Option<i64>>,
    pub key: Vec<RecordKey>,
    pub in_population: Vec<bool>,
}

impl Employees {
    pub fn new(facts: &Facts, filters: &Filters) -> Employees {
        // A person listed twice keeps their last department, as a map would.
        let index = IdIndex::new(facts.employees.iter().map(|e| e.id));
        let mut department = vec![None; facts.employees.len()];
        let mut key = vec![RecordKey::new(0); facts.employees.len()];
        for e in &facts.employees {
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

    pub fn get(&self, id: i64) -> Option<usize> {
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

const PERSON_BITS: u32 = 32;
const PLATFORM_BITS: u32 = 4;

/// (post, person, platform) as one integer that sorts by post, then person.
fn pack(post: usize, person: usize, i: usize) -> u64 {
    ((post as u64) << (PERSON_BITS + PLATFORM_BITS)) | ((person as u64) << PLATFORM_BITS) | i as u64
}

pub(super) fn count(
    facts: &Facts,
    filters: &Filters,
    people: &Employees,
    weeks: &[Week],
) -> Counts {
    let platforms = filters.platforms.len();
    let mut place = [None; Platform::ALL.len()];
    for (i, p) in filters.platforms.iter().enumerate() {
        place[*p as usize] = Some(i);
    }
    let audiences = Audiences::new(facts);
    let calendar = Calendar::new(weeks);
    let posts = facts.posts.len();
    debug_assert!(platforms < 1 << PLATFORM_BITS && (people.len() as u64) < 1 << PERSON_BITS);

    let mut counts = Counts {
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
    };
    let mut week_sets: Vec<PeopleSet> = (0..weeks.len())
        .map(|_| PeopleSet::new(people.len()))
        .collect();
    let mut week_platform_sets: Vec<PeopleSet> = (0..weeks.len() * platforms)
        .map(|_| PeopleSet::new(people.len()))
        .collect();
    let mut shared_chosen = PeopleSet::new(people.len());
    let mut shared_any = PeopleSet::new(people.len());
    let mut post_pairs: Vec<u64> = Vec::new();

    for (u, p, platform, at) in &facts.shares {
        let Some(person) = people.get(*u) else {
            continue;
        };
        let counted = people.in_population[person];
        if counted && shared_any.insert(person) {
            counts.population_sharers.add(people.key[person]);
        }
        let Some(i) = place[*platform as usize] else {
            continue;
        };
        shared_chosen.insert(person);
        if !counted {
            continue;
        }
        if let Some(post) = audiences.reaches(*p, people.department[person]) {
            post_pairs.push(pack(post, person, i));
        }
        let key = people.key[person];
        calendar.each_week_of(*at, |w| {
            counts.week_events[w * platforms + i] += 1;
            if week_platform_sets[w * platforms + i].insert(person) {
                counts.week_platform_people[w * platforms + i].add(key);
            }
            if week_sets[w].insert(person) {
                counts.week_people[w].add(key);
            }
        });
    }

    // Sorted, a (post, person, platform) repeats only next to itself, and a
    // (post, person) only next to its other platforms.
    post_pairs.sort_unstable();
    let mut previous: Option<u64> = None;
    for key in post_pairs {
        let post = (key >> (PERSON_BITS + PLATFORM_BITS)) as usize;
        let person = ((key >> PLATFORM_BITS) & ((1 << PERSON_BITS) - 1)) as usize;
        let i = (key & ((1 << PLATFORM_BITS) - 1)) as usize;
        counts.post_events[post * platforms + i] += 1;
        if previous != Some(key) {
            counts.post_people[post * platforms + i].add(people.key[person]);
        }
        if previous.is_none_or(|prev| prev >> PLATFORM_BITS != key >> PLATFORM_BITS) {
            counts.post_sharers[post].add(people.key[person]);
        }
        previous = Some(key);
    }

    let mut dismissal_pairs: Vec<u64> = facts
        .dismissals
        .iter()
        .filter_map(|(u, p)| {
            let person = people.get(*u).filter(|i| people.in_population[*i])?;
            audiences
                .reaches(*p, people.department[person])
                .map(|post| pack(post, person, 0))
        })
        .collect();
    dismissal_pairs.sort_unstable();
    dismissal_pairs.dedup();
    for key in dismissal_pairs {
        let person = ((key >> PLATFORM_BITS) & ((1 << PERSON_BITS) - 1)) as usize;
        counts.post_dismissals[(key >> (PERSON_BITS + PLATFORM_BITS)) as usize]
            .add(people.key[person]);
    }

    for person in 0..people.len() {
        if shared_chosen.contains(person) {
            counts
                .department_sharers
                .entry(people.department[person])
                .or_default()
                .add(people.key[person]);
        }
    }

    let mut opted: Vec<(usize, Platform)> = facts
        .opted_in
        .iter()
        .filter_map(|(u, platform)| people.get(*u).map(|person| (person, *platform)))
        .collect();
    opted.sort_unstable_by_key(|(person, platform)| (*person, *platform as u8));
    opted.dedup();
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
        }
    }
    counts
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
        assert!(set.contains(129) && set.contains(0) && !set.contains(64));
    }
}
