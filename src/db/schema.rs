//! The database schema, shared by both backends. Written by hand so that one
//! file describes the migrations in `migrations/sqlite` and `migrations/postgres`.

diesel::table! {
    org_settings (id) {
        id -> BigInt,
        org_name -> Text,
        setup_completed_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        enabled_platforms -> Text,
        consent_language -> Text,
        jurisdiction -> Text,
        privacy_contact -> Text,
    }
}

diesel::table! {
    departments (id) {
        id -> BigInt,
        name -> Text,
        name_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        department_id -> Nullable<BigInt>,
        is_employee -> Bool,
        is_comms -> Bool,
        is_admin -> Bool,
        active -> Bool,
        password_hash -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    one_time_tokens (token_hash) {
        token_hash -> Text,
        purpose -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (email) {
        email -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    policy_versions (version) {
        version -> BigInt,
        markdown -> Text,
        sha256 -> Text,
        material -> Bool,
        published_at -> Timestamp,
        published_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    consent_events (id) {
        id -> BigInt,
        event_uuid -> Text,
        user_id -> BigInt,
        purpose -> Text,
        platform -> Text,
        action -> Text,
        policy_version -> BigInt,
        policy_sha256 -> Text,
        collection_method -> Text,
        actor -> Text,
        language -> Text,
        jurisdiction -> Text,
        created_at -> Timestamp,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    consent_erasures (user_id) {
        user_id -> BigInt,
    }
}

diesel::table! {
    consent_state (user_id, purpose, platform) {
        user_id -> BigInt,
        purpose -> Text,
        platform -> Text,
        status -> Text,
        policy_version -> BigInt,
        instance -> Nullable<Text>,
        last_event_uuid -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(users -> departments (department_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    org_settings,
    departments,
    users,
    sessions,
    one_time_tokens,
    login_throttle,
    policy_versions,
    consent_events,
    consent_erasures,
    consent_state,
);
