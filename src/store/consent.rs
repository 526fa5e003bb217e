//! The consent ledger (append-only, hash-chained per person) and the current
//! state derived from it, always written together in one transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreError, StoreResult, org, policy};
use crate::db::schema::{
    consent_erasures, consent_events, consent_seals, consent_state, user_caps, users,
};
use crate::domain::consent::{
    Action, BrokenLink, Choice, ConsentEvent, Purpose, Status, action_for, verify_chain,
};
use crate::domain::platforms::Platform;
use crate::domain::share_caps::ShareCaps;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consent_events)]
struct EventRow {
    event_uuid: String,
    user_id: i64,
    purpose: String,
    platform: String,
    action: String,
    policy_version: i64,
    policy_sha256: String,
    collection_method: String,
    actor: String,
    language: String,
    jurisdiction: String,
    created_at: NaiveDateTime,
    prev_hash: String,
    hash: String,
}

impl From<EventRow> for ConsentEvent {
    fn from(r: EventRow) -> ConsentEvent {
        ConsentEvent {
            event_uuid: r.event_uuid,
            user_id: r.user_id,
            purpose: r.purpose,
            platform: r.platform,
            action: r.action,
            policy_version: r.policy_version,
            policy_sha256: r.policy_sha256,
            collection_method: r.collection_method,
            actor: r.actor,
            language: r.language,
            jurisdiction: r.jurisdiction,
            created_at: r.created_at,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// A person's current choice for one purpose.
#[derive(Debug, Clone)]
pub struct ConsentState {
    pub purpose: Purpose,
    pub status: Status,
    pub policy_version: i64,
    /// The person's own Mastodon instance, for Mastodon.
    pub instance: Option<String>,
    pub updated_at: NaiveDateTime,
}

type StateRow = (String, String, String, i64, Option<String>, NaiveDateTime);

/// The columns a [`StateRow`] is made of.
macro_rules! state_columns {
    () => {
        (
            consent_state::purpose,
            consent_state::platform,
            consent_state::status,
            consent_state::policy_version,
            consent_state::instance,
            consent_state::updated_at,
        )
    };
}

fn to_state(
    (purpose, platform, status, policy_version, instance, updated_at): StateRow,
) -> Option<ConsentState> {
    Some(ConsentState {
        purpose: Purpose::parse(&purpose, &platform)?,
        status: Status::parse(&status)?,
        policy_version,
        instance,
        updated_at,
    })
}

pub fn states_for(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<ConsentState>> {
    let query = consent_state::table
        .filter(consent_state::user_id.eq(user_id))
        .select(state_columns!());
    Ok(super::natively!(conn, |c| query.load::<StateRow>(c))?
        .into_iter()
        .filter_map(to_state)
        .collect())
}

fn state_of(
    conn: &mut DbConnection,
    user_id: i64,
    purpose: Purpose,
) -> StoreResult<Option<ConsentState>> {
    Ok(consent_state::table
        .find((user_id, purpose.name(), purpose.platform_slug()))
        .select(state_columns!())
        .first::<StateRow>(conn)
        .optional()?
        .and_then(to_state))
}

/// A platform the person may be offered posts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformChoice {
    pub platform: Platform,
    /// Their Mastodon instance, for Mastodon.
    pub instance: Option<String>,
    /// The caps they set for themselves there, if any.
    pub caps: Option<ShareCaps>,
}

/// The platforms the person may be offered posts for right now, each with
/// their Mastodon instance where relevant and the caps they set there: one
/// statement, the queue's read of a person's choices.
pub fn choices(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<PlatformChoice>> {
    let query = consent_state::table
        .left_join(
            user_caps::table.on(user_caps::user_id
                .eq(consent_state::user_id)
                .and(user_caps::platform.eq(consent_state::platform))),
        )
        .filter(consent_state::user_id.eq(user_id))
        .select((
            state_columns!(),
            user_caps::per_day.nullable(),
            user_caps::per_week.nullable(),
        ));
    let rows = super::natively!(conn, |c| query
        .load::<(StateRow, Option<i32>, Option<i32>)>(c))?;
    let mut choices: Vec<PlatformChoice> = rows
        .into_iter()
        .filter_map(|(state, per_day, per_week)| {
            let state = to_state(state)?;
            let Purpose::ShareSuggestions(platform) = state.purpose else {
                return None;
            };
            state.status.allows_suggestions().then(|| PlatformChoice {
                platform,
                instance: state.instance,
                caps: per_day.zip(per_week).map(|(d, w)| ShareCaps {
                    per_day: d.max(0) as u32,
                    per_week: w.max(0) as u32,
                }),
            })
        })
        .collect();
    choices.sort_by_key(|c| c.platform);
    Ok(choices)
}

/// The platforms the person may be offered posts for right now, with their
/// Mastodon instance where relevant.
pub fn consented_platforms(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<Vec<(Platform, Option<String>)>> {
    Ok(choices(conn, user_id)?
        .into_iter()
        .map(|c| (c.platform, c.instance))
        .collect())
}

pub fn allows(conn: &mut DbConnection, user_id: i64, purpose: Purpose) -> StoreResult<bool> {
    Ok(state_of(conn, user_id, purpose)?.is_some_and(|s| s.status.allows_suggestions()))
}

/// Which of these people allow `purpose` right now: [`allows`] for many
/// people in one statement.
pub fn allowing(
    conn: &mut DbConnection,
    user_ids: &[i64],
    purpose: Purpose,
) -> StoreResult<std::collections::HashSet<i64>> {
    let rows: Vec<(i64, String)> = consent_state::table
        .filter(consent_state::user_id.eq_any(user_ids))
        .filter(consent_state::purpose.eq(purpose.name()))
        .filter(consent_state::platform.eq(purpose.platform_slug()))
        .select((consent_state::user_id, consent_state::status))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, status)| Status::parse(status).is_some_and(Status::allows_suggestions))
        .map(|(user_id, _)| user_id)
        .collect())
}

/// What each of these people agreed to and still allows right now (a
/// given consent), in one statement: [`allows`] and [`choices`]' platforms
/// for many people at once. A person who allows nothing is left out.
pub fn given_by(
    conn: &mut DbConnection,
    user_ids: &[i64],
) -> StoreResult<std::collections::HashMap<i64, Vec<Purpose>>> {
    let rows: Vec<(i64, String, String, String)> = consent_state::table
        .filter(consent_state::user_id.eq_any(user_ids))
        .select((
            consent_state::user_id,
            consent_state::purpose,
            consent_state::platform,
            consent_state::status,
        ))
        .load(conn)?;
    let mut given: std::collections::HashMap<i64, Vec<Purpose>> = Default::default();
    for (user_id, purpose, platform, status) in rows {
        if Status::parse(&status).is_some_and(Status::allows_suggestions)
            && let Some(purpose) = Purpose::parse(&purpose, &platform)
        {
            given.entry(user_id).or_default().push(purpose);
        }
    }
    Ok(given)
}

/// A person's events, oldest first.
pub fn events_for(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<ConsentEvent>> {
    Ok(consent_events::table
        .filter(consent_events::user_id.eq(user_id))
        .order(consent_events::id.asc())
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ConsentEvent::from)
        .collect())
}

/// One event, only if it belongs to this person.
pub fn event_of(
    conn: &mut DbConnection,
    user_id: i64,
    event_uuid: &str,
) -> StoreResult<Option<ConsentEvent>> {
    Ok(consent_events::table
        .filter(consent_events::event_uuid.eq(event_uuid))
        .filter(consent_events::user_id.eq(user_id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()?
        .map(ConsentEvent::from))
}

/// Serialises all consent writes of one person: a no-op UPDATE takes the
/// row lock on PostgreSQL and the write lock on SQLite, so two requests
/// cannot both read the same chain head.
fn lock_person(conn: &mut DbConnection, user_id: i64) -> StoreResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::updated_at.eq(users::updated_at))
        .execute(conn)?;
    Ok(())
}

fn chain_head(conn: &mut DbConnection, user_id: i64) -> StoreResult<Option<String>> {
    Ok(consent_events::table
        .filter(consent_events::user_id.eq(user_id))
        .order(consent_events::id.desc())
        .select(consent_events::hash)
        .first::<String>(conn)
        .optional()?)
}

struct NewEvent<'a> {
    user_id: i64,
    purpose: Purpose,
    action: Action,
    policy: &'a policy::PolicyVersion,
    collection_method: &'a str,
    actor: String,
    settings: &'a org::OrgSettings,
    now: NaiveDateTime,
}

/// Appends one event to the person's chain and updates the derived state.
/// The caller holds the person's lock (see [`lock_person`]).
fn append(
    conn: &mut DbConnection,
    new: NewEvent<'_>,
    instance: Option<Option<&str>>,
) -> StoreResult<ConsentEvent> {
    let event = ConsentEvent {
        event_uuid: uuid::Uuid::new_v4().to_string(),
        user_id: new.user_id,
        purpose: new.purpose.name().to_string(),
        platform: new.purpose.platform_slug().to_string(),
        action: new.action.as_str().to_string(),
        policy_version: new.policy.version,
        policy_sha256: new.policy.sha256.clone(),
        collection_method: new.collection_method.to_string(),
        actor: new.actor,
        language: new.settings.consent_language.clone(),
        jurisdiction: new.settings.jurisdiction.clone(),
        created_at: new.now,
        prev_hash: String::new(),
        hash: String::new(),
    }
    .sealed_after(chain_head(conn, new.user_id)?.as_deref());
    diesel::insert_into(consent_events::table)
        .values((
            consent_events::event_uuid.eq(&event.event_uuid),
            consent_events::user_id.eq(event.user_id),
            consent_events::purpose.eq(&event.purpose),
            consent_events::platform.eq(&event.platform),
            consent_events::action.eq(&event.action),
            consent_events::policy_version.eq(event.policy_version),
            consent_events::policy_sha256.eq(&event.policy_sha256),
            consent_events::collection_method.eq(&event.collection_method),
            consent_events::actor.eq(&event.actor),
            consent_events::language.eq(&event.language),
            consent_events::jurisdiction.eq(&event.jurisdiction),
            consent_events::created_at.eq(event.created_at),
            consent_events::prev_hash.eq(&event.prev_hash),
            consent_events::hash.eq(&event.hash),
        ))
        .execute(conn)?;
    seal(conn, new.user_id, &event.hash)?;
    let status = new.action.status_after().as_str();
    let key = (new.user_id, new.purpose.name(), new.purpose.platform_slug());
    let updated = match instance {
        Some(instance) => diesel::update(consent_state::table.find(key))
            .set((
                consent_state::status.eq(status),
                consent_state::policy_version.eq(event.policy_version),
                consent_state::instance.eq(instance),
                consent_state::last_event_uuid.eq(&event.event_uuid),
                consent_state::updated_at.eq(new.now),
            ))
            .execute(conn)?,
        None => diesel::update(consent_state::table.find(key))
            .set((
                consent_state::status.eq(status),
                consent_state::policy_version.eq(event.policy_version),
                consent_state::last_event_uuid.eq(&event.event_uuid),
                consent_state::updated_at.eq(new.now),
            ))
            .execute(conn)?,
    };
    if updated == 0 {
        diesel::insert_into(consent_state::table)
            .values((
                consent_state::user_id.eq(new.user_id),
                consent_state::purpose.eq(new.purpose.name()),
                consent_state::platform.eq(new.purpose.platform_slug()),
                consent_state::status.eq(status),
                consent_state::policy_version.eq(event.policy_version),
                consent_state::instance.eq(instance.flatten()),
                consent_state::last_event_uuid.eq(&event.event_uuid),
                consent_state::updated_at.eq(new.now),
            ))
            .execute(conn)?;
    }
    Ok(event)
}

#[derive(Debug)]
pub enum ChoiceOutcome {
    Recorded(Box<ConsentEvent>),
    /// The choice was already the current state (an instance change is kept).
    Unchanged,
    /// No policy has been published, so no consent can be given under one.
    NoPolicy,
}

/// Records a person's choice for a purpose, in one transaction.
pub fn record_choice(
    conn: &mut DbConnection,
    user_id: i64,
    purpose: Purpose,
    choice: Choice,
    instance: Option<&str>,
    collection_method: &str,
    now: NaiveDateTime,
) -> StoreResult<ChoiceOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_person(conn, user_id)?;
        let Some(policy) = policy::current(conn)? else {
            return Ok(ChoiceOutcome::NoPolicy);
        };
        let settings = org::settings(conn)?;
        let current = state_of(conn, user_id, purpose)?;
        let Some(action) = action_for(current.as_ref().map(|s| s.status), choice) else {
            if choice == Choice::Yes && instance.is_some() {
                diesel::update(consent_state::table.find((
                    user_id,
                    purpose.name(),
                    purpose.platform_slug(),
                )))
                .set(consent_state::instance.eq(instance))
                .execute(conn)?;
            }
            return Ok(ChoiceOutcome::Unchanged);
        };
        let new_instance = (choice == Choice::Yes && instance.is_some()).then_some(instance);
        let event = append(
            conn,
            NewEvent {
                user_id,
                purpose,
                action,
                policy: &policy,
                collection_method,
                actor: format!("user:{user_id}"),
                settings: &settings,
                now,
            },
            new_instance,
        )?;
        Ok(ChoiceOutcome::Recorded(Box::new(event)))
    })
}

/// Pauses every consent given under a version older than `version` (which
/// must be published already): the system records an "invalidated" event
/// for each, and the state becomes "needs re-consent". Returns how many.
pub fn invalidate_given_before(
    conn: &mut DbConnection,
    version: i64,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    crate::db::write_transaction(conn, |conn| {
        let policy = policy::find(conn, version)?.ok_or(diesel::result::Error::NotFound)?;
        let settings = org::settings(conn)?;
        let affected: Vec<(i64, String, String)> = consent_state::table
            .filter(consent_state::status.eq(Status::Given.as_str()))
            .filter(consent_state::policy_version.lt(version))
            .order((
                consent_state::user_id.asc(),
                consent_state::purpose.asc(),
                consent_state::platform.asc(),
            ))
            .select((
                consent_state::user_id,
                consent_state::purpose,
                consent_state::platform,
            ))
            .load(conn)?;
        let method = format!("policy version {version} (material change)");
        let mut count = 0;
        for (user_id, purpose, platform) in affected {
            let Some(purpose) = Purpose::parse(&purpose, &platform) else {
                continue;
            };
            lock_person(conn, user_id)?;
            append(
                conn,
                NewEvent {
                    user_id,
                    purpose,
                    action: Action::Invalidated,
                    policy: &policy,
                    collection_method: &method,
                    actor: "system".to_string(),
                    settings: &settings,
                    now,
                },
                None,
            )?;
            count += 1;
        }
        Ok::<_, StoreError>(count)
    })
}

// ---- Seals: the ledger, keyed with a secret the database does not hold ----

/// The ledger key: HMAC(server secret, "consent-ledger"), installed once at
/// start (`startup::open_database`). Process-wide, as the server's secret is.
static LEDGER_KEY: std::sync::RwLock<Option<[u8; 32]>> = std::sync::RwLock::new(None);

/// Derives the ledger key from the server's secret and installs it.
pub fn install_ledger_key(server_secret: &[u8]) {
    let key: [u8; 32] = hmac_of(server_secret, b"consent-ledger");
    *LEDGER_KEY
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
}

fn ledger_key() -> Option<[u8; 32]> {
    *LEDGER_KEY
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hmac_of(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

const LIVE: &str = "live";
const ERASED: &str = "erased";
const PENDING: &str = "pending";

/// The seal of a live chain: its length and its head, for this person.
fn live_mac(key: &[u8; 32], user_id: i64, events: i64, head: &str) -> String {
    hex::encode(hmac_of(
        key,
        format!("live\n{user_id}\n{events}\n{head}").as_bytes(),
    ))
}

/// The tombstone of an erased chain.
fn erased_mac(key: &[u8; 32], user_id: i64) -> String {
    hex::encode(hmac_of(key, format!("erased\n{user_id}").as_bytes()))
}

fn put_seal(
    conn: &mut DbConnection,
    user_id: i64,
    kind: &str,
    events: i64,
    head: &str,
    mac: &str,
) -> StoreResult<()> {
    let updated = diesel::update(consent_seals::table.find(user_id))
        .set((
            consent_seals::kind.eq(kind),
            consent_seals::events.eq(events),
            consent_seals::head_hash.eq(head),
            consent_seals::mac.eq(mac),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(consent_seals::table)
            .values((
                consent_seals::user_id.eq(user_id),
                consent_seals::kind.eq(kind),
                consent_seals::events.eq(events),
                consent_seals::head_hash.eq(head),
                consent_seals::mac.eq(mac),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Seals a person's chain after an append (the caller holds their lock).
/// Without an installed key (a tool that never opened the database through
/// start-up) the chain stays unsealed, and verify says so.
fn seal(conn: &mut DbConnection, user_id: i64, head: &str) -> StoreResult<()> {
    let Some(key) = ledger_key() else {
        tracing::warn!(
            user_id,
            "consent ledger key not installed: chain left unsealed"
        );
        return Ok(());
    };
    let events: i64 = consent_events::table
        .filter(consent_events::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    put_seal(
        conn,
        user_id,
        LIVE,
        events,
        head,
        &live_mac(&key, user_id, events, head),
    )
}

/// Seals every chain of these people as it stands (the demo's bulk insert;
/// chains from before seals existed, at the first start). Returns how many.
fn seal_as_found(conn: &mut DbConnection, people: Option<&[i64]>) -> StoreResult<usize> {
    let Some(key) = ledger_key() else {
        return Ok(0);
    };
    let mut query = consent_events::table
        .order((consent_events::user_id.asc(), consent_events::id.asc()))
        .select((consent_events::user_id, consent_events::hash))
        .into_boxed();
    if let Some(people) = people {
        query = query.filter(consent_events::user_id.eq_any(people));
    }
    let rows: Vec<(i64, String)> = query.load(conn)?;
    let mut heads: Vec<(i64, i64, String)> = Vec::new();
    for (user_id, hash) in rows {
        match heads.last_mut() {
            Some((last, count, head)) if *last == user_id => {
                *count += 1;
                *head = hash;
            }
            _ => heads.push((user_id, 1, hash)),
        }
    }
    for (user_id, events, head) in &heads {
        put_seal(
            conn,
            *user_id,
            LIVE,
            *events,
            head,
            &live_mac(&key, *user_id, *events, head),
        )?;
    }
    Ok(heads.len())
}

/// Seals every chain in the database as found (for bulk inserts such as the
/// demo's, within their transaction).
pub fn seal_all(conn: &mut DbConnection) -> StoreResult<usize> {
    seal_as_found(conn, None)
}

/// Seals the chains the seal migration found (kind 'pending'), as they
/// stand: run by `chorus serve` at start, once the key is installed.
pub fn seal_pending(conn: &mut DbConnection) -> StoreResult<usize> {
    if ledger_key().is_none() {
        return Ok(0);
    }
    crate::db::write_transaction(conn, |conn| {
        let pending: Vec<i64> = consent_seals::table
            .filter(consent_seals::kind.eq(PENDING))
            .select(consent_seals::user_id)
            .load(conn)?;
        if pending.is_empty() {
            return Ok(0);
        }
        seal_as_found(conn, Some(&pending))
    })
}

type SealRow = (i64, String, i64, String, String);
type StateCheckRow = (i64, String, String, String, i64, String);

/// How many person ids verify reads at once: what it holds in memory is
/// their events, seals and states, whatever the size of the ledger.
const VERIFY_PEOPLE: i64 = 1_000;

/// Checks the whole ledger: every person's hash chain, its seal (length
/// and head, keyed: a chain rewritten or cut short without the server's
/// key fails), every tombstone, and that each current state names the
/// latest event of its person, purpose and platform and agrees with it.
/// The number of events checked, or the first problem found.
///
/// It walks the people in ranges of [`VERIFY_PEOPLE`] ids, each read in
/// one snapshot, so its memory stays flat as the ledger grows (all of a
/// million people's events at once held gigabytes).
pub fn verify_all(conn: &mut DbConnection) -> StoreResult<Result<usize, BrokenLink>> {
    let Some(key) = ledger_key() else {
        return Ok(Err(BrokenLink {
            user_id: 0,
            event_uuid: "-".into(),
            reason: "the ledger key is not installed".into(),
        }));
    };
    let mut checked = 0;
    let mut from = i64::MIN;
    while let Some(first) = next_person_with_records(conn, from)? {
        let people = first..first.saturating_add(VERIFY_PEOPLE);
        let end = people.end;
        match crate::db::read_snapshot(conn, |conn| verify_people(conn, &key, people))? {
            Ok(events) => checked += events,
            Err(broken) => return Ok(Err(broken)),
        }
        if end == i64::MAX {
            break;
        }
        from = end;
    }
    Ok(Ok(checked))
}

/// The lowest person id from `from` on with an event, a seal or a state.
fn next_person_with_records(conn: &mut DbConnection, from: i64) -> StoreResult<Option<i64>> {
    use diesel::dsl::min;
    let event: Option<i64> = consent_events::table
        .filter(consent_events::user_id.ge(from))
        .select(min(consent_events::user_id))
        .first(conn)?;
    let seal: Option<i64> = consent_seals::table
        .filter(consent_seals::user_id.ge(from))
        .select(min(consent_seals::user_id))
        .first(conn)?;
    let state: Option<i64> = consent_state::table
        .filter(consent_state::user_id.ge(from))
        .select(min(consent_state::user_id))
        .first(conn)?;
    Ok([event, seal, state].into_iter().flatten().min())
}

/// [`verify_all`] for the people whose ids are in `people`.
fn verify_people(
    conn: &mut DbConnection,
    key: &[u8; 32],
    people: std::ops::Range<i64>,
) -> StoreResult<Result<usize, BrokenLink>> {
    use std::collections::HashMap;
    let problem = |user_id: i64, event_uuid: &str, reason: String| BrokenLink {
        user_id,
        event_uuid: event_uuid.to_string(),
        reason,
    };
    let events: Vec<ConsentEvent> = consent_events::table
        .filter(consent_events::user_id.ge(people.start))
        .filter(consent_events::user_id.lt(people.end))
        .order((consent_events::user_id.asc(), consent_events::id.asc()))
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ConsentEvent::from)
        .collect();
    let mut seals: HashMap<i64, SealRow> = consent_seals::table
        .filter(consent_seals::user_id.ge(people.start))
        .filter(consent_seals::user_id.lt(people.end))
        .select((
            consent_seals::user_id,
            consent_seals::kind,
            consent_seals::events,
            consent_seals::head_hash,
            consent_seals::mac,
        ))
        .load::<SealRow>(conn)?
        .into_iter()
        .map(|row| (row.0, row))
        .collect();
    let states: Vec<StateCheckRow> = consent_state::table
        .filter(consent_state::user_id.ge(people.start))
        .filter(consent_state::user_id.lt(people.end))
        .select((
            consent_state::user_id,
            consent_state::purpose,
            consent_state::platform,
            consent_state::status,
            consent_state::policy_version,
            consent_state::last_event_uuid,
        ))
        .load(conn)?;

    let mut by_uuid: HashMap<&str, &ConsentEvent> = HashMap::with_capacity(events.len());
    let mut latest: HashMap<(i64, &str, &str), &str> = HashMap::new();
    for chain in events.chunk_by(|a, b| a.user_id == b.user_id) {
        if let Err(broken) = verify_chain(chain) {
            return Ok(Err(broken));
        }
        let user_id = chain[0].user_id;
        let head = chain.last().map_or("", |e| e.hash.as_str());
        let count = chain.len() as i64;
        match seals.remove(&user_id) {
            Some((_, kind, events, seal_head, mac))
                if kind == LIVE
                    && events == count
                    && seal_head == head
                    && mac == live_mac(key, user_id, count, head) => {}
            Some((_, kind, ..)) if kind == PENDING => {
                return Ok(Err(problem(
                    user_id,
                    head,
                    "the chain is not sealed yet: start `chorus serve` once after upgrading".into(),
                )));
            }
            Some(_) => {
                return Ok(Err(problem(
                    user_id,
                    head,
                    format!(
                        "the chain ({count} events) does not match its keyed seal: events were \
                         rewritten, added or deleted without the server's key"
                    ),
                )));
            }
            None => {
                return Ok(Err(problem(
                    user_id,
                    head,
                    "the chain has no keyed seal: written without the server's key".into(),
                )));
            }
        }
        for event in chain {
            by_uuid.insert(event.event_uuid.as_str(), event);
            latest.insert(
                (user_id, event.purpose.as_str(), event.platform.as_str()),
                event.event_uuid.as_str(),
            );
        }
    }
    // Seals left have no events: only a genuine tombstone may say so.
    let mut erased = std::collections::HashSet::new();
    for (user_id, (_, kind, _, _, mac)) in seals {
        if kind == ERASED && mac == erased_mac(key, user_id) {
            erased.insert(user_id);
            continue;
        }
        let reason = if kind == ERASED {
            "a tombstone that the server's key did not sign: a forged erasure".to_string()
        } else {
            "the seal names events that are gone: deleted without an erasure".to_string()
        };
        return Ok(Err(problem(user_id, "-", reason)));
    }
    let mut states_seen = 0;
    for (user_id, purpose, platform, status, policy_version, last) in &states {
        let bad = |reason: &str| {
            Ok(Err(problem(
                *user_id,
                last,
                format!("the current state of {purpose} {platform} {reason}"),
            )))
        };
        if erased.contains(user_id) {
            return bad("outlived the person's erasure");
        }
        let Some(event) = by_uuid.get(last.as_str()) else {
            // Not among these people's events: someone else's, or none.
            let elsewhere = consent_events::table
                .filter(consent_events::event_uuid.eq(last))
                .count()
                .get_result::<i64>(conn)?;
            return bad(if elsewhere > 0 {
                "names another person's or purpose's event"
            } else {
                "names an event that is not in the ledger"
            });
        };
        if event.user_id != *user_id || event.purpose != *purpose || event.platform != *platform {
            return bad("names another person's or purpose's event");
        }
        if latest.get(&(*user_id, purpose.as_str(), platform.as_str())) != Some(&last.as_str()) {
            return bad("is not the latest event of its chain");
        }
        let agrees = Action::parse(&event.action)
            .is_some_and(|a| a.status_after().as_str() == status)
            && event.policy_version == *policy_version;
        if !agrees {
            return bad("does not agree with its event");
        }
        states_seen += 1;
    }
    if states_seen != latest.len() {
        let missing = latest
            .iter()
            .find(|((user_id, purpose, platform), _)| {
                !states
                    .iter()
                    .any(|s| s.0 == *user_id && s.1 == *purpose && s.2 == *platform)
            })
            .map(|((user_id, _, _), uuid)| (*user_id, uuid.to_string()))
            .unwrap_or((0, String::new()));
        return Ok(Err(problem(
            missing.0,
            &missing.1,
            "an event's purpose has no current state".into(),
        )));
    }
    Ok(Ok(events.len()))
}

/// Removes a person's consent records, for account erasure. The erasure
/// row is what lets the append-only triggers allow these deletes; the keyed
/// tombstone left in `consent_seals` is what tells verify the erasure was
/// the server's.
pub fn erase_for_user(conn: &mut DbConnection, user_id: i64) -> StoreResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(consent_erasures::table)
            .values(consent_erasures::user_id.eq(user_id))
            .execute(conn)?;
        diesel::delete(consent_events::table.filter(consent_events::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(consent_state::table.filter(consent_state::user_id.eq(user_id)))
            .execute(conn)?;
        diesel::delete(consent_erasures::table.find(user_id)).execute(conn)?;
        let mac = ledger_key().map_or_else(String::new, |key| erased_mac(&key, user_id));
        put_seal(conn, user_id, ERASED, 0, "", &mac)?;
        Ok(())
    })
}
