//! The attack suite: an admin who may read every view, change the
//! organisation and knows their own and their accomplices' choices tries
//! to learn one person's yes/no opt-in from the published reports. The
//! attacker makes the best guess the published figures allow (Bayes,
//! knowing the method and its shift probabilities, not the record keys).
//! No attack may be certain, none may come near certainty (odds of 99 to
//! 1), and none may be right more than 75% of the time.
//!
//! Each attack runs twice:
//! - on the report builder alone, over 200 seeded organisations;
//! - through the store on SQLite and on PostgreSQL: the people, departments,
//!   moves and choices are written to the database, every view is read as
//!   the Reports page reads it (`app::reports::build`, with its kept facts
//!   and its cache) and must equal the builder's answer for the same
//!   facts, and the attacker is judged on what the database published.
//!   The stored organisations share one database, one after another; each
//!   new one deactivates the people of the one before.

use std::collections::{BTreeMap, HashMap};

use chorus::app::reports::{ReportQuery, weeks_ending};
use chorus::db::schema::users;
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::disclosure_control::{RecordKey, shift_probability};
use chorus::domain::email::EmailAddress;
use chorus::domain::names::{DepartmentName, PersonName};
use chorus::domain::platforms::Platform;
use chorus::domain::reports::{Employee, Facts, Filters, PostFact, Reports, build};
use chorus::domain::roles::Roles;
use chorus::store::{self, consent};
use chrono::{Datelike, NaiveDateTime};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::backend_test;
use crate::helpers::*;

const K: u32 = 5;
const ORGANISATIONS: u64 = 200;
/// Organisations per attack through the database: each is written and
/// read for real, so fewer (the seeds of the first 100 of the 200).
const STORED_ORGANISATIONS: u64 = 100;
const PLATFORMS: [Platform; 3] = [Platform::LinkedIn, Platform::X, Platform::Mastodon];

/// A moment mid-week, so the week calendar is the same for every view.
fn wednesday_noon() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2027, 1, 6)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

/// The database half of a run: one app whose organisations follow one
/// another, and the admin who makes every change.
struct Stored<'a> {
    app: &'a TestApp,
    admin: i64,
    /// Every department created so far, as the store lists them (by name).
    departments: Vec<(i64, String)>,
    /// The people of the organisation before, deactivated by the next one.
    people: Vec<i64>,
    organisations: u64,
    emails: u64,
}

impl<'a> Stored<'a> {
    async fn new(app: &'a TestApp) -> Stored<'a> {
        // Mid-week, so the week calendar is the same for every view.
        let now = app.clock.now_naive();
        let mut noon = now.date().and_hms_opt(12, 0, 0).unwrap();
        while noon <= now || noon.weekday() != chrono::Weekday::Wed {
            noon += chrono::Duration::days(1);
        }
        app.clock.advance(noon - now);
        let admin = app
            .create_user("attacker@example.com", "Ada Attacker", "admin")
            .await;
        let now = app.clock.now_naive();
        app.db(move |conn| {
            store::policy::publish(conn, "Policy", false, admin, now)?;
            Ok(())
        })
        .await;
        app.change_settings(|change| {
            change.enabled_platforms = PLATFORMS.to_vec();
            change.k_anonymity = K;
        })
        .await;
        Stored {
            app,
            admin,
            departments: vec![],
            people: vec![],
            organisations: 0,
            emails: 0,
        }
    }
}

/// Someone to add: department (id, name) as stored, record key, choices.
type NewPerson = (Option<i64>, Option<String>, i64, Vec<bool>);

/// A seeded organisation: departments, people with a share opted in per
/// department and platform, and record keys no attacker knows. With a
/// database, every change is written there too and every view read from
/// there (and checked against the builder).
struct Organisation<'s, 'a> {
    facts: Facts,
    rng: StdRng,
    now: NaiveDateTime,
    next_id: i64,
    /// Department ids and names as the attacks name them → as stored.
    names: HashMap<i64, (i64, String)>,
    stored: Option<&'s mut Stored<'a>>,
}

impl<'s, 'a> Organisation<'s, 'a> {
    async fn new(
        seed: u64,
        sizes: &[(i64, usize)],
        stored: Option<&'s mut Stored<'a>>,
    ) -> Organisation<'s, 'a> {
        let now = match &stored {
            Some(s) => s.app.clock.now_naive(),
            None => wednesday_noon(),
        };
        let mut org = Organisation {
            facts: Facts {
                employees: vec![],
                departments: vec![],
                opted_in: vec![],
                posts: vec![],
                offered: vec![],
                shares: vec![],
                dismissals: vec![],
            },
            rng: StdRng::seed_from_u64(seed),
            now,
            next_id: 1,
            names: HashMap::new(),
            stored,
        };
        if let Some(stored) = org.stored.as_deref_mut() {
            stored.organisations += 1;
            let (people, admin) = (std::mem::take(&mut stored.people), stored.admin);
            stored
                .app
                .db(move |conn| {
                    chorus::db::write_transaction(conn, |conn| {
                        for person in people {
                            store::users::set_active(conn, person, false, admin, now)?;
                        }
                        Ok(())
                    })
                })
                .await;
            org.facts.departments = stored.departments.clone();
        }
        for (department, _) in sizes.iter().filter(|(id, _)| *id > 0) {
            org.department(*department, &format!("Department {department}"))
                .await;
        }
        let mut people = Vec::new();
        for (department, size) in sizes {
            let rates: Vec<f64> = PLATFORMS
                .iter()
                .map(|_| org.rng.random_range(0.2..0.8))
                .collect();
            for _ in 0..*size {
                let choices: Vec<bool> = rates.iter().map(|r| org.rng.random_bool(*r)).collect();
                let key: i64 = org.rng.random();
                people.push(((*department > 0).then_some(*department), key, choices));
            }
        }
        org.add_many(people).await;
        org
    }

    /// A department the attacks call `id` and `name`.
    async fn department(&mut self, id: i64, name: &str) {
        let stored_as = match self.stored.as_deref_mut() {
            None => (id, name.to_string()),
            Some(stored) => {
                let name = format!("{name} of organisation {}", stored.organisations);
                let parsed = DepartmentName::parse_optional(&name).unwrap().unwrap();
                let (admin, now) = (stored.admin, self.now);
                let real = stored
                    .app
                    .db(move |conn| {
                        store::departments::find_or_create(
                            conn,
                            &parsed,
                            store::audit::Actor::Person(admin),
                            now,
                        )
                    })
                    .await;
                stored.departments.push((real, name.clone()));
                stored.departments.sort_by_key(|(_, n)| n.to_lowercase());
                (real, name)
            }
        };
        self.facts.departments.push(stored_as.clone());
        self.facts
            .departments
            .sort_by_key(|(_, n)| n.to_lowercase());
        self.names.insert(id, stored_as);
    }

    fn real(&self, department: Option<i64>) -> Option<i64> {
        department.map(|d| self.names[&d].0)
    }

    /// The department's name as the reports show it.
    fn shown_name(&self, department: i64) -> &str {
        &self.names[&department].1
    }

    /// Adds people (department, record key, choice per platform); returns their ids.
    async fn add_many(&mut self, people: Vec<(Option<i64>, i64, Vec<bool>)>) -> Vec<i64> {
        let people: Vec<NewPerson> = people
            .into_iter()
            .map(|(d, key, choices)| {
                let name = d.map(|d| self.names[&d].1.clone());
                (self.real(d), name, key, choices)
            })
            .collect();
        let ids: Vec<i64> = match self.stored.as_deref_mut() {
            None => {
                let first = self.next_id;
                self.next_id += people.len() as i64;
                (first..self.next_id).collect()
            }
            Some(stored) => {
                let first = stored.emails;
                stored.emails += people.len() as u64;
                let now = self.now;
                let rows = people.clone();
                let ids = stored
                    .app
                    .db(move |conn| {
                        chorus::db::write_transaction(conn, |conn| {
                            let mut ids = Vec::new();
                            for (n, (_, department, key, choices)) in rows.iter().enumerate() {
                                let id = create_employee(conn, first + n as u64, department, now)?;
                                // Seeded instead of random, so every run is the
                                // same as the builder's run of these seeds.
                                diesel::update(users::table.find(id))
                                    .set(users::record_key.eq(key))
                                    .execute(conn)?;
                                for (platform, yes) in PLATFORMS.iter().zip(choices) {
                                    if *yes {
                                        choose(conn, id, *platform, true, now)?;
                                    }
                                }
                                ids.push(id);
                            }
                            Ok(ids)
                        })
                    })
                    .await;
                stored.people.extend(&ids);
                ids
            }
        };
        for (id, (department, _, key, choices)) in ids.iter().zip(people) {
            self.facts.employees.push(Employee {
                id: *id,
                department,
                record_key: RecordKey::new(key),
            });
            for (platform, chosen) in PLATFORMS.iter().zip(choices) {
                if chosen {
                    self.facts.opted_in.push((*id, *platform));
                }
            }
        }
        ids
    }

    /// Adds a person with their choices per platform; returns their id.
    async fn add(&mut self, department: Option<i64>, choices: &[bool]) -> i64 {
        let key: i64 = self.rng.random();
        self.add_many(vec![(department, key, choices.to_vec())])
            .await[0]
    }

    fn random_choices(&mut self) -> Vec<bool> {
        PLATFORMS
            .iter()
            .map(|_| self.rng.random_bool(0.5))
            .collect()
    }

    async fn move_to(&mut self, person: i64, department: Option<i64>) {
        let real = self.real(department);
        for e in &mut self.facts.employees {
            if e.id == person {
                e.department = real;
            }
        }
        if let Some(stored) = self.stored.as_deref_mut() {
            let name = department.map(|d| self.names[&d].1.clone());
            let (admin, now) = (stored.admin, self.now);
            stored
                .app
                .db(move |conn| {
                    let change = store::users::ProfileChange {
                        name: PersonName::parse(&format!("Person {person}")).unwrap(),
                        roles: Roles::parse_list("employee").unwrap(),
                        department: name
                            .map(|n| DepartmentName::parse_optional(&n).unwrap().unwrap()),
                    };
                    store::users::update_profile(conn, person, &change, admin, now)?;
                    Ok(())
                })
                .await;
        }
    }

    async fn set_choice(&mut self, person: i64, platform: Platform, yes: bool) {
        self.facts
            .opted_in
            .retain(|(u, p)| !(*u == person && *p == platform));
        if yes {
            self.facts.opted_in.push((person, platform));
        }
        if let Some(stored) = self.stored.as_deref_mut() {
            let now = self.now;
            stored
                .app
                .db(move |conn| choose(conn, person, platform, yes, now))
                .await;
        }
    }

    /// A view of the reports: `weeks` ending now, for these platforms (all
    /// three when None), of everyone or of one department.
    async fn view(
        &mut self,
        weeks: u32,
        platform: Option<Platform>,
        department: Option<i64>,
    ) -> Reports {
        let filters = Filters {
            platforms: platform.map_or(PLATFORMS.to_vec(), |p| vec![p]),
            department: self.real(department),
        };
        let calendar = weeks_ending(self.now, chrono_tz::UTC, weeks);
        let built = build(&self.facts, &filters, &calendar, K);
        if let Some(stored) = self.stored.as_deref_mut() {
            let query = ReportQuery {
                weeks: weeks.to_string(),
                platform: platform.map_or(String::new(), |p| p.slug().to_string()),
                department: filters.department.map_or(String::new(), |d| d.to_string()),
            };
            let published = chorus::app::reports::build(&stored.app.state, &query)
                .await
                .unwrap_or_else(|e| panic!("the reports page fails: {e}"));
            let published = &published.reports;
            assert_eq!(published.platforms, built.platforms, "platform table");
            assert_eq!(published.departments, built.departments, "department table");
            assert_eq!(published.trend, built.trend, "weekly table");
            assert_eq!(
                published.reportable_departments, built.reportable_departments,
                "reportable departments"
            );
        }
        built
    }

    async fn read(&mut self) -> Reports {
        self.view(12, None, None).await
    }
}

fn create_employee(
    conn: &mut chorus::db::DbConnection,
    n: u64,
    department: &Option<String>,
    now: NaiveDateTime,
) -> Result<i64, store::StoreError> {
    let person = store::users::NewUser {
        email: EmailAddress::parse(&format!("person{n}@example.com")).unwrap(),
        name: PersonName::parse("Someone").unwrap(),
        roles: Roles::parse_list("employee").unwrap(),
        department: department
            .as_deref()
            .map(|d| DepartmentName::parse_optional(d).unwrap().unwrap()),
    };
    match store::users::create(conn, &person, now)? {
        store::users::CreateOutcome::Created(id) => Ok(id),
        store::users::CreateOutcome::EmailTaken => panic!("person{n} exists"),
    }
}

fn choose(
    conn: &mut chorus::db::DbConnection,
    person: i64,
    platform: Platform,
    yes: bool,
    now: NaiveDateTime,
) -> Result<(), store::StoreError> {
    let choice = if yes { Choice::Yes } else { Choice::No };
    consent::record_choice(
        conn,
        person,
        Purpose::ShareSuggestions(platform),
        choice,
        None,
        "test",
        now,
    )?;
    Ok(())
}

/// A department's published opt-in count on the i-th platform.
fn department_cell(reports: &Reports, department: &str, i: usize) -> Option<i64> {
    reports
        .departments
        .rows
        .iter()
        .find(|row| row[0] == department)
        .and_then(|row| row[2 + i].parse().ok())
}

/// The organisation's published opt-in count on the i-th platform.
fn everyone_cell(reports: &Reports, i: usize) -> Option<i64> {
    reports.platforms.rows[i][1].parse().ok()
}

/// One observation: a published difference equal to `v_times` × the
/// target's choice plus a sum of `shifts` independent shifts (and a known
/// offset already taken off).
struct Evidence {
    value: i64,
    v_times: i64,
    shifts: usize,
}

/// What one attack concluded about one choice.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    guesses: u32,
    right: f64,
    certain: u32,
    /// The attacker's highest confidence in any one guess.
    surest: f64,
}

impl Tally {
    /// The attacker's best guess from independent pieces of evidence.
    fn judge(&mut self, truth: bool, evidence: &[Evidence]) {
        if evidence.is_empty() {
            return;
        }
        let likelihood = |v: i64| -> f64 {
            evidence
                .iter()
                .map(|e| {
                    shift_sum(e.shifts)
                        .get(&(e.value - e.v_times * v))
                        .copied()
                        .unwrap_or(0.0)
                })
                .product()
        };
        let (no, yes) = (likelihood(0), likelihood(1));
        self.guesses += 1;
        if (no == 0.0) != (yes == 0.0) {
            self.certain += 1;
        }
        self.surest = self.surest.max(no.max(yes) / (no + yes));
        self.right += if yes == no {
            0.5
        } else if (yes > no) == truth {
            1.0
        } else {
            0.0
        };
    }

    fn accuracy(&self) -> f64 {
        self.right / self.guesses.max(1) as f64
    }

    /// Fails if a guess was certain or near certain, or if the attack was
    /// right more often than `at_most`, over at least `guesses` guesses.
    fn check(&self, attack: &str, at_most: f64, guesses: u32) {
        eprintln!(
            "{attack}: {} guesses, right {:.1}%, certain {}, surest {:.1}%",
            self.guesses,
            100.0 * self.accuracy(),
            self.certain,
            100.0 * self.surest
        );
        assert!(
            self.guesses >= guesses,
            "{attack}: too few feasible guesses: {self:?}"
        );
        assert_eq!(self.certain, 0, "{attack}: an attack was certain: {self:?}");
        assert!(self.surest < 0.99, "{attack}: near certainty: {self:?}");
        assert!(
            self.accuracy() <= at_most,
            "{attack}: right {:.1}% > {:.0}%",
            100.0 * self.accuracy(),
            100.0 * at_most
        );
    }
}

/// The distribution of a sum of `n` independent shifts (worked out once).
fn shift_sum(n: usize) -> &'static HashMap<i64, f64> {
    static SUMS: std::sync::OnceLock<Vec<HashMap<i64, f64>>> = std::sync::OnceLock::new();
    &SUMS.get_or_init(|| (0..8).map(sum_of_shifts).collect())[n]
}

fn sum_of_shifts(n: usize) -> HashMap<i64, f64> {
    // Ordered, so the sums add up the same way (to the last bit) every run.
    let mut sum = BTreeMap::from([(0_i64, 1.0)]);
    for _ in 0..n {
        let mut next = BTreeMap::new();
        for (total, p) in &sum {
            for shift in -40..=40 {
                *next.entry(total + shift).or_insert(0.0) += p * shift_probability(shift);
            }
        }
        sum = next;
    }
    sum.into_iter().collect()
}

fn difference(after: Option<i64>, before: Option<i64>) -> Option<i64> {
    Some(after? - before?)
}

/// Everyone minus every department (each read through its own filter)
/// = the one person without a department, plus the shifts of every figure
/// used.
async fn complement_of_the_departments(
    mut stored: Option<&mut Stored<'_>>,
    organisations: u64,
) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..organisations {
        let sizes = [(1, 20), (2, 25), (3, 16), (4, 30)];
        let mut org = Organisation::new(seed, &sizes, stored.as_deref_mut()).await;
        let choices = org.random_choices();
        org.add(None, &choices).await;
        let reports = org.read().await;
        let mut departments = Vec::new();
        for (id, _) in sizes {
            // A department's count read through the department filter
            // (where complementary suppression of the table does not reach).
            departments.push(org.view(12, None, Some(id)).await);
        }
        for (i, truth) in choices.iter().enumerate() {
            let sum: Option<i64> = departments.iter().map(|r| everyone_cell(r, i)).sum();
            if let (Some(all), Some(departments)) = (everyone_cell(&reports, i), sum) {
                let evidence = Evidence {
                    value: all - departments,
                    v_times: 1,
                    shifts: 1 + sizes.len(),
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally
}

/// Two departments too small to show (2 and 2 people): their sum is the
/// total minus the rest; the attacker knows the three other members.
async fn two_hidden_groups(mut stored: Option<&mut Stored<'_>>, organisations: u64) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..organisations {
        let sizes = [(1, 22), (2, 30), (3, 18)];
        let mut org = Organisation::new(1000 + seed, &sizes, stored.as_deref_mut()).await;
        org.department(8, "Small 8").await;
        org.department(9, "Small 9").await;
        let choices = org.random_choices();
        org.add(Some(8), &choices).await;
        let accomplices: Vec<Vec<bool>> = (0..3).map(|_| org.random_choices()).collect();
        for (n, known) in accomplices.iter().enumerate() {
            org.add(Some(if n == 0 { 8 } else { 9 }), known).await;
        }
        let reports = org.read().await;
        for (i, truth) in choices.iter().enumerate() {
            let shown: Option<i64> = sizes
                .iter()
                .map(|(id, _)| department_cell(&reports, org.shown_name(*id), i))
                .sum();
            let known = accomplices.iter().filter(|c| c[i]).count() as i64;
            if let (Some(all), Some(shown)) = (everyone_cell(&reports, i), shown) {
                let evidence = Evidence {
                    value: all - shown - known,
                    v_times: 1,
                    shifts: 1 + sizes.len(),
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally
}

/// The tightest attack: both departments read before and after the move.
async fn a_move_between_two_departments(
    mut stored: Option<&mut Stored<'_>>,
    organisations: u64,
) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..organisations {
        let sizes = [(1, 24), (2, 30), (3, 16)];
        let mut org = Organisation::new(2000 + seed, &sizes, stored.as_deref_mut()).await;
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices).await;
        let before = org.read().await;
        org.move_to(target, Some(2)).await;
        let after = org.read().await;
        let (one, two) = (org.shown_name(1).to_string(), org.shown_name(2).to_string());
        for (i, truth) in choices.iter().enumerate() {
            let a = difference(
                department_cell(&before, &one, i),
                department_cell(&after, &one, i),
            );
            let b = difference(
                department_cell(&after, &two, i),
                department_cell(&before, &two, i),
            );
            let evidence: Vec<Evidence> = [a, b]
                .into_iter()
                .flatten()
                .map(|value| Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                })
                .collect();
            tally.judge(*truth, &evidence);
        }
        // Moving back gives back the very first answers: nothing new to average.
        org.move_to(target, Some(1)).await;
        assert_eq!(org.read().await.departments, before.departments);
    }
    tally
}

async fn a_move_out_and_back(mut stored: Option<&mut Stored<'_>>, organisations: u64) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..organisations {
        let mut org =
            Organisation::new(3000 + seed, &[(1, 26), (2, 19)], stored.as_deref_mut()).await;
        org.department(7, "New").await;
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices).await;
        let before = org.read().await;
        org.move_to(target, Some(7)).await;
        let away = org.read().await;
        org.move_to(target, Some(1)).await;
        assert_eq!(
            org.read().await.departments,
            before.departments,
            "back as it was"
        );
        let one = org.shown_name(1).to_string();
        for (i, truth) in choices.iter().enumerate() {
            if let Some(value) = difference(
                department_cell(&before, &one, i),
                department_cell(&away, &one, i),
            ) {
                let evidence = Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                };
                tally.judge(*truth, &[evidence]);
            }
        }
    }
    tally
}

/// The admin sits in the target's department, reads it with their own
/// choice both ways, moves the target to another department, and reads
/// both departments again with their own choice both ways.
async fn an_admin_who_is_also_an_employee(
    mut stored: Option<&mut Stored<'_>>,
    organisations: u64,
) -> Tally {
    let mut tally = Tally::default();
    for seed in 0..organisations {
        let mut org =
            Organisation::new(4000 + seed, &[(1, 24), (2, 28)], stored.as_deref_mut()).await;
        let choices = org.random_choices();
        let target = org.add(Some(1), &choices).await;
        let admin = org.add(Some(1), &[false, false, false]).await;
        let mut before = Vec::new();
        for own in [false, true] {
            for platform in PLATFORMS {
                org.set_choice(admin, platform, own).await;
            }
            before.push(org.read().await);
        }
        org.move_to(target, Some(2)).await;
        let mut after = Vec::new();
        for own in [false, true] {
            for platform in PLATFORMS {
                org.set_choice(admin, platform, own).await;
            }
            after.push(org.read().await);
        }
        let (one, two) = (org.shown_name(1).to_string(), org.shown_name(2).to_string());
        for (i, truth) in choices.iter().enumerate() {
            let mut evidence = Vec::new();
            for own in 0..2 {
                // Department 1 with the admin's own choice the same way
                // before and after: their own part cancels out.
                if let Some(value) = difference(
                    department_cell(&before[own], &one, i),
                    department_cell(&after[own], &one, i),
                ) {
                    evidence.push(Evidence {
                        value,
                        v_times: 1,
                        shifts: 2,
                    });
                }
            }
            // Department 2 does not hold the admin: one pair of reads.
            if let Some(value) = difference(
                department_cell(&after[0], &two, i),
                department_cell(&before[0], &two, i),
            ) {
                evidence.push(Evidence {
                    value,
                    v_times: 1,
                    shifts: 2,
                });
            }
            tally.judge(*truth, &evidence);
        }
    }
    tally
}

/// The attacks, by name.
#[derive(Clone, Copy)]
enum Attack {
    Complement,
    TwoHiddenGroups,
    MoveBetween,
    MoveOutAndBack,
    AdminEmployee,
}

impl Attack {
    /// What it concluded over the first `organisations` seeds, with the
    /// database when `stored` is given.
    async fn run(self, stored: Option<&mut Stored<'_>>, organisations: u64) -> Tally {
        match self {
            Attack::Complement => complement_of_the_departments(stored, organisations).await,
            Attack::TwoHiddenGroups => two_hidden_groups(stored, organisations).await,
            Attack::MoveBetween => a_move_between_two_departments(stored, organisations).await,
            Attack::MoveOutAndBack => a_move_out_and_back(stored, organisations).await,
            Attack::AdminEmployee => an_admin_who_is_also_an_employee(stored, organisations).await,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Attack::Complement => "complement of the reportable departments",
            Attack::TwoHiddenGroups => "two hidden groups",
            Attack::MoveBetween => "one person moved between two reported departments",
            Attack::MoveOutAndBack => "one person moved out of a department and back",
            Attack::AdminEmployee => "an admin who is also an employee",
        }
    }

    /// The most often an attack may be right.
    fn at_most(self) -> f64 {
        match self {
            Attack::MoveBetween => 0.72,
            _ => 0.75,
        }
    }

    /// On the builder alone, over every seeded organisation.
    async fn on_the_builder(self) {
        self.run(None, ORGANISATIONS)
            .await
            .check(self.name(), self.at_most(), 150);
    }

    /// Through the store: every answer the database publishes is checked
    /// against the builder's for the same facts as it is read, and the
    /// attacker is judged on the database's answers.
    async fn through_the_store(self, app: &TestApp) {
        let mut stored = Stored::new(app).await;
        let published = self.run(Some(&mut stored), STORED_ORGANISATIONS).await;
        published.check(self.name(), self.at_most(), 60);
    }
}

#[actix_web::test]
async fn the_complement_of_the_reportable_departments_does_not_single_out_the_person_left() {
    Attack::Complement.on_the_builder().await;
}

#[actix_web::test]
async fn two_hidden_groups_worked_out_from_the_total_do_not_single_out_their_member() {
    Attack::TwoHiddenGroups.on_the_builder().await;
}

#[actix_web::test]
async fn moving_one_person_between_two_reported_departments_reveals_at_most_a_weak_hint() {
    Attack::MoveBetween.on_the_builder().await;
}

#[actix_web::test]
async fn moving_one_person_out_of_a_department_and_back_reveals_at_most_a_weak_hint() {
    Attack::MoveOutAndBack.on_the_builder().await;
}

#[actix_web::test]
async fn an_admin_who_is_also_an_employee_gains_little_from_their_own_choices_and_a_move() {
    Attack::AdminEmployee.on_the_builder().await;
}

backend_test!(
    async fn the_complement_of_the_departments_read_from_the_database_singles_no_one_out(app) {
        Attack::Complement.through_the_store(&app).await;
    }
);

backend_test!(
    async fn two_hidden_groups_read_from_the_database_single_no_one_out(app) {
        Attack::TwoHiddenGroups.through_the_store(&app).await;
    }
);

backend_test!(
    async fn a_move_between_departments_stored_and_read_back_reveals_at_most_a_weak_hint(app) {
        Attack::MoveBetween.through_the_store(&app).await;
    }
);

backend_test!(
    async fn a_move_out_and_back_stored_and_read_back_reveals_at_most_a_weak_hint(app) {
        Attack::MoveOutAndBack.through_the_store(&app).await;
    }
);

backend_test!(
    async fn an_admin_employee_whose_choices_and_moves_are_stored_gains_little(app) {
        Attack::AdminEmployee.through_the_store(&app).await;
    }
);

/// `day` days into a 75-day stretch that ends now (mid-week).
fn t(day: i64) -> NaiveDateTime {
    wednesday_noon() - chrono::Duration::days(75 - day)
}

#[actix_web::test]
async fn other_periods_and_platform_filters_repeat_the_same_answers_instead_of_new_samples() {
    // Differencing periods (12 weeks minus 4) or platform filters gives new
    // samples only if the same figure is answered differently. It never is:
    // a week's shares, a post's figures and an opt-in count are the same
    // figure in every view that shows them.
    for seed in 0..ORGANISATIONS {
        let mut org = Organisation::new(5000 + seed, &[(1, 30), (2, 25)], None).await;
        for post in 1..=4 {
            org.facts.posts.push(PostFact {
                id: post,
                title: format!("Post {post}"),
                departments: None,
                published_at: t(70 - 14 * post),
                ended_at: None,
            });
        }
        org.facts.offered = org.facts.posts.clone();
        let people: Vec<i64> = org.facts.employees.iter().map(|e| e.id).collect();
        for person in people {
            for post in 1..=4 {
                for platform in PLATFORMS {
                    if org.rng.random_bool(0.3) {
                        let day = org.rng.random_range(70 - 14 * post..77);
                        org.facts.shares.push((person, post, platform, t(day)));
                    }
                }
            }
        }
        let view = |periods: u32, platforms: Vec<Platform>, department: Option<i64>| {
            let filters = Filters {
                platforms,
                department,
            };
            let calendar = weeks_ending(org.now, chrono_tz::UTC, periods);
            build(&org.facts, &filters, &calendar, K)
        };
        let four = view(4, PLATFORMS.to_vec(), None);
        let twelve = view(12, PLATFORMS.to_vec(), None);
        let by_title = |r: &Reports| -> HashMap<String, Vec<String>> {
            r.posts_as_of(org.now, None)
                .rows
                .iter()
                .map(|row| (row[0].clone(), row[1..row.len() - 1].to_vec()))
                .collect()
        };
        let (posts_4, posts_12) = (by_title(&four), by_title(&twelve));
        for (title, cells) in &posts_4 {
            assert_eq!(Some(cells), posts_12.get(title), "{title} in both periods");
        }
        for (week_4, week_12) in four.trend.rows.iter().zip(&twelve.trend.rows[8..]) {
            assert_eq!(week_4, week_12, "the same week in both periods");
        }
        for (i, platform) in PLATFORMS.iter().enumerate() {
            let alone = view(12, vec![*platform], None);
            assert_eq!(alone.platforms.rows[0], twelve.platforms.rows[i]);
            assert_eq!(alone.trend.rows.len(), 12);
            for (w, row) in alone.trend.rows.iter().enumerate() {
                assert_eq!(row[1], twelve.platforms.rows[i][4 + w], "week {w}");
            }
            for department in [1, 2] {
                let filtered = view(4, PLATFORMS.to_vec(), Some(department));
                let row = twelve
                    .departments
                    .rows
                    .iter()
                    .find(|r| r[0] == format!("Department {department}"))
                    .unwrap();
                // Complementary suppression may hide it in the table only.
                if row[2 + i] != "suppressed" {
                    assert_eq!(filtered.platforms.rows[i][1], row[2 + i]);
                }
            }
        }
    }
}
