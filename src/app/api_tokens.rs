//! JSON API tokens: a person's own (personal) tokens and the
//! organisation's service tokens (integrations, made by admins). One path
//! for both: list, create (the token is given once, only its hash is
//! kept), revoke; each change audited.

use super::{App, Error, Result};
use crate::domain::api_access::TokenRequest;
use crate::domain::ids::UserId;
use crate::store::api_tokens::{self, ApiToken, NewToken, Revocable};

/// Whose tokens: a person's own, or the organisation's service tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    Personal(UserId),
    Service,
}

/// The tokens, newest first (revoked and expired ones included).
pub async fn list(app: &App, whose: Whose) -> Result<Vec<ApiToken>> {
    Ok(app
        .db
        .run(move |conn| match whose {
            Whose::Personal(user) => api_tokens::personal_of(conn, user.get()),
            Whose::Service => api_tokens::services(conn),
        })
        .await?)
}

/// Creates a token for `owner` (the person, or the admin creating a
/// service token) and returns it: it is never available again.
pub async fn create(app: &App, request: TokenRequest, owner: UserId) -> Result<String> {
    let now = app.clock.now_naive();
    let (_, token) = app
        .db
        .run(move |conn| {
            api_tokens::create(
                conn,
                &NewToken {
                    kind: request.kind,
                    owner_id: owner.get(),
                    name: &request.name,
                    scope: request.scope,
                    expires_at: request
                        .expires_in_days
                        .map(|days| now + chrono::Duration::days(days)),
                },
                now,
            )
        })
        .await?;
    Ok(token)
}

/// Revokes one of `whose` tokens at once. NotFound for someone else's
/// token, an unknown one, or one revoked before.
pub async fn revoke(app: &App, token_id: i64, whose: Whose, by: UserId) -> Result<()> {
    let which = match whose {
        Whose::Personal(user) => Revocable::PersonalOf(user.get()),
        Whose::Service => Revocable::Service,
    };
    let now = app.clock.now_naive();
    let revoked = app
        .db
        .run(move |conn| api_tokens::revoke(conn, token_id, which, by.get(), now))
        .await?;
    revoked.then_some(()).ok_or(Error::NotFound)
}
