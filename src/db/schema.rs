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
        timezone -> Text,
        disclosure_template -> Text,
        disclosure_required -> Bool,
        crowd_threshold -> Integer,
        crowd_cap_per_hour -> Integer,
        k_anonymity -> Integer,
        sso_create_accounts -> Bool,
        password_login -> Bool,
        utm_tags -> Bool,
        utm_template -> Text,
        posts_need_approval -> Bool,
        brand_colour -> Text,
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
        timezone -> Nullable<Text>,
        quiet_from -> Nullable<Integer>,
        quiet_until -> Nullable<Integer>,
        digest_frequency -> Text,
        digest_weekday -> Integer,
        digest_hour -> Integer,
        digest_max_posts -> Integer,
        last_digest_at -> Nullable<Timestamp>,
        oidc_subject -> Nullable<Text>,
        record_key -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        sso_id_token -> Nullable<Text>,
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
    consent_seals (user_id) {
        user_id -> BigInt,
        kind -> Text,
        events -> BigInt,
        head_hash -> Text,
        mac -> Text,
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

diesel::table! {
    hub_caps (platform) {
        platform -> Text,
        per_day -> Integer,
        per_week -> Integer,
    }
}

diesel::table! {
    posts (id) {
        id -> BigInt,
        title -> Text,
        link -> Text,
        base_text -> Text,
        status -> Text,
        target_all -> Bool,
        publish_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        published_at -> Nullable<Timestamp>,
        withdrawn_at -> Nullable<Timestamp>,
        withdrawal_reason -> Nullable<Text>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revision -> Integer,
        edited_by -> Nullable<BigInt>,
        approved_by -> Nullable<BigInt>,
        approved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    post_departments (post_id, department_id) {
        post_id -> BigInt,
        department_id -> BigInt,
    }
}

diesel::table! {
    post_captions (post_id, platform, variant) {
        post_id -> BigInt,
        platform -> Text,
        variant -> Integer,
        text -> Text,
    }
}

diesel::table! {
    suggestions (id) {
        id -> BigInt,
        user_id -> BigInt,
        link -> Text,
        note -> Text,
        status -> Text,
        response_note -> Nullable<Text>,
        post_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        subject -> Text,
        detail -> Text,
    }
}

diesel::table! {
    share_caps (platform) {
        platform -> Text,
        default_day -> Integer,
        default_week -> Integer,
        ceiling_day -> Integer,
        ceiling_week -> Integer,
    }
}

diesel::table! {
    user_caps (user_id, platform) {
        user_id -> BigInt,
        platform -> Text,
        per_day -> Integer,
        per_week -> Integer,
    }
}

diesel::table! {
    shares (id) {
        id -> BigInt,
        user_id -> BigInt,
        post_id -> BigInt,
        platform -> Text,
        variant -> Integer,
        edited -> Bool,
        shared_at -> Timestamp,
    }
}

diesel::table! {
    dismissals (user_id, post_id) {
        user_id -> BigInt,
        post_id -> BigInt,
        dismissed_at -> Timestamp,
    }
}

diesel::table! {
    withdrawal_notices_read (user_id, post_id) {
        user_id -> BigInt,
        post_id -> BigInt,
        read_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        recipient -> Text,
        dedupe_key -> Text,
        payload -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        headers -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        send_before -> Nullable<Timestamp>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    suppressed_addresses (email) {
        email -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    unsubscribe_tokens (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sso_logins (state_hash) {
        state_hash -> Text,
        browser_hash -> Text,
        nonce -> Text,
        pkce_verifier -> Text,
        next_path -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(shares -> posts (post_id));
diesel::joinable!(dismissals -> posts (post_id));
diesel::joinable!(post_captions -> posts (post_id));
diesel::joinable!(post_departments -> posts (post_id));
diesel::joinable!(link_previews -> posts (post_id));
diesel::joinable!(users -> departments (department_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));

diesel::table! {
    report_changes (kind, shard) {
        kind -> Integer,
        shard -> Integer,
        changes -> BigInt,
    }
}

diesel::table! {
    queue_generation (id) {
        id -> Integer,
        changes -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        prefix -> Text,
        kind -> Text,
        service_role -> Nullable<Text>,
        user_id -> BigInt,
        name -> Text,
        scope -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));

diesel::table! {
    calendar_feeds (id) {
        id -> BigInt,
        token_hash -> Text,
        prefix -> Text,
        user_id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(calendar_feeds -> users (user_id));

diesel::table! {
    link_previews (post_id) {
        post_id -> BigInt,
        link -> Text,
        title -> Text,
        description -> Text,
        image_hash -> Nullable<Text>,
        image_type -> Nullable<Text>,
        image_width -> Nullable<Integer>,
        image_height -> Nullable<Integer>,
        image -> Nullable<Binary>,
        fetch_problem -> Nullable<Text>,
        fetched_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    feeds (id) {
        id -> BigInt,
        url -> Text,
        title -> Text,
        interval_minutes -> Integer,
        paused -> Bool,
        added_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        removed_at -> Nullable<Timestamp>,
        next_poll_at -> Timestamp,
        etag -> Nullable<Text>,
        last_modified -> Nullable<Text>,
        last_tried_at -> Nullable<Timestamp>,
        last_success_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        drafts_made -> BigInt,
    }
}

diesel::table! {
    feed_items (id) {
        id -> BigInt,
        feed_id -> BigInt,
        item_key -> Text,
        post_id -> Nullable<BigInt>,
        seen_at -> Timestamp,
    }
}

diesel::joinable!(feed_items -> feeds (feed_id));
diesel::joinable!(feed_items -> posts (post_id));

diesel::table! {
    chat_channels (id) {
        id -> BigInt,
        kind -> Text,
        name -> Text,
        url_sealed -> Text,
        url_hint -> Text,
        target_all -> Bool,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chat_channel_departments (channel_id, department_id) {
        channel_id -> BigInt,
        department_id -> BigInt,
    }
}

diesel::joinable!(chat_channel_departments -> chat_channels (channel_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    chat_channels,
    chat_channel_departments,
    calendar_feeds,
    org_settings,
    departments,
    users,
    sessions,
    one_time_tokens,
    login_throttle,
    policy_versions,
    consent_events,
    consent_erasures,
    consent_seals,
    consent_state,
    hub_caps,
    posts,
    post_departments,
    post_captions,
    link_previews,
    suggestions,
    audit_log,
    share_caps,
    user_caps,
    shares,
    dismissals,
    withdrawal_notices_read,
    outbox,
    suppressed_addresses,
    unsubscribe_tokens,
    sso_logins,
    feeds,
    feed_items,
);
