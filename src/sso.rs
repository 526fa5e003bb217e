//! Single sign-on with an OpenID Connect provider: discovery (cached, with
//! timeouts), the authorization request (code flow with PKCE and a nonce)
//! and the code exchange with ID token verification. No database here: the
//! web layer keeps the sign-ins under way (`store::sso`).

use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope,
};

/// The discovery document, with `end_session_endpoint` (RP-initiated logout).
type Metadata = ProviderMetadataWithLogout;
use tokio::sync::Mutex;

use crate::config::Config;

/// How long the provider's discovery document and keys are trusted before
/// they are fetched again (so rotated signing keys are picked up).
const METADATA_FOR: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("the identity provider could not be reached or gave an unusable answer: {0}")]
    Unreachable(String),
    #[error("the identity provider refused the sign-in code: {0}")]
    Exchange(String),
    #[error("the identity provider's ID token was not valid: {0}")]
    InvalidToken(String),
    #[error("the nonce in the ID token does not match this sign-in")]
    WrongNonce,
    #[error("invalid SSO configuration: {0}")]
    Configuration(String),
}

/// The SSO settings, when CHORUS_OIDC_ISSUER_URL and the client id are set.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: Option<ClientSecret>,
    pub redirect_url: RedirectUrl,
    /// What the login button says: "Sign in with {provider_name}".
    pub provider_name: String,
    pub department_claim: Option<String>,
    pub timeout: Duration,
}

impl SsoSettings {
    /// None when SSO is not configured; an error when it is, but wrongly.
    pub fn from_config(config: &Config, base_url: &str) -> Result<Option<SsoSettings>, SsoError> {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let Some(issuer) = text(&config.oidc_issuer_url) else {
            return Ok(None);
        };
        let client_id = text(&config.oidc_client_id).ok_or_else(|| {
            SsoError::Configuration(
                "CHORUS_OIDC_CLIENT_ID is required with CHORUS_OIDC_ISSUER_URL".into(),
            )
        })?;
        let issuer = IssuerUrl::new(issuer.trim_end_matches('/').to_string())
            .map_err(|e| SsoError::Configuration(format!("CHORUS_OIDC_ISSUER_URL: {e}")))?;
        let redirect_url = RedirectUrl::new(format!("{base_url}{CALLBACK_PATH}"))
            .map_err(|e| SsoError::Configuration(format!("redirect URL: {e}")))?;
        Ok(Some(SsoSettings {
            issuer,
            client_id: ClientId::new(client_id),
            client_secret: text(&config.oidc_client_secret).map(ClientSecret::new),
            redirect_url,
            provider_name: text(&config.oidc_provider_name)
                .unwrap_or_else(|| "single sign-on".to_string()),
            department_claim: text(&config.oidc_department_claim),
            timeout: Duration::from_secs(config.oidc_timeout_seconds.clamp(1, 60)),
        }))
    }
}

/// Where the provider sends people back (register it at the provider).
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

/// A sign-in about to be sent to the provider: where to send the browser,
/// and what the callback must match (kept server-side until then).
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says signed in, from a verified ID token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub department: Option<String>,
    /// The ID token itself, kept with the session as the hint of the
    /// provider's logout.
    pub id_token: String,
}

/// The provider client of one process: settings, an HTTP client with
/// timeouts, and the discovery document once fetched.
pub struct Sso {
    pub settings: SsoSettings,
    http: openidconnect::reqwest::Client,
    metadata: Mutex<Option<(Metadata, Instant)>>,
}

impl Sso {
    pub fn new(settings: SsoSettings) -> Result<Sso, SsoError> {
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would open the door to SSRF (openidconnect's advice).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| SsoError::Configuration(format!("HTTP client: {e}")))?;
        Ok(Sso {
            settings,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The discovery document, fetched when missing or stale. A failure is
    /// not kept: the next sign-in tries again (bounded by the timeout).
    async fn metadata(&self, refresh: bool) -> Result<Metadata, SsoError> {
        let mut cached = self.metadata.lock().await;
        if !refresh
            && let Some((metadata, at)) = cached.as_ref()
            && at.elapsed() < METADATA_FOR
        {
            return Ok(metadata.clone());
        }
        let fetched = Metadata::discover_async(self.settings.issuer.clone(), &self.http)
            .await
            .map_err(|e| SsoError::Unreachable(error_chain(&e)))?;
        *cached = Some((fetched.clone(), Instant::now()));
        Ok(fetched)
    }

    /// Fetches the discovery document now (at start-up), so that a wrong
    /// issuer shows in the log before anyone tries to sign in.
    pub async fn check(&self) -> Result<(), SsoError> {
        self.metadata(true).await.map(|_| ())
    }

    fn client(&self, metadata: Metadata) -> DiscoveredClient {
        CoreClient::from_provider_metadata(
            metadata,
            self.settings.client_id.clone(),
            self.settings.client_secret.clone(),
        )
        .set_redirect_uri(self.settings.redirect_url.clone())
    }

    /// A fresh authorization request: random state and nonce, PKCE (S256).
    pub async fn authorize(&self) -> Result<Authorization, SsoError> {
        let client = self.client(self.metadata(false).await?);
        Ok(authorization(&client))
    }

    /// Where to send the browser at logout so that the provider ends its
    /// session too (OpenID Connect RP-Initiated Logout 1.0), when its
    /// discovery document names an end_session_endpoint. Only a document
    /// already at hand is used: logout never waits for the provider.
    pub async fn logout_url(&self, id_token: &str, after_logout: &str) -> Option<String> {
        let endpoint = {
            let cached = self.metadata.lock().await;
            let (metadata, _) = cached.as_ref()?;
            metadata
                .additional_metadata()
                .end_session_endpoint
                .clone()?
        };
        let after = PostLogoutRedirectUrl::new(after_logout.to_string()).ok()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(self.settings.client_id.clone())
            .set_post_logout_redirect_uri(after);
        if let Ok(token) = id_token.parse::<CoreIdToken>() {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID token:
    /// signature, issuer, audience, expiry and the nonce of this sign-in.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Identity, SsoError> {
        let client = self.client(self.metadata(false).await?);
        identity(
            &client,
            &self.http,
            code,
            pkce_verifier,
            nonce,
            self.settings.department_claim.as_deref(),
        )
        .await
    }
}

/// A client configured from the discovery document.
type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A fresh authorization request: random state and nonce, PKCE (S256).
fn authorization(client: &DiscoveredClient) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Authorization {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    }
}

/// Exchanges the code and verifies the ID token.
async fn identity(
    client: &DiscoveredClient,
    http: &openidconnect::reqwest::Client,
    code: &str,
    pkce_verifier: &str,
    nonce: &str,
    department_claim: Option<&str>,
) -> Result<Identity, SsoError> {
    use openidconnect::TokenResponse;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| SsoError::Unreachable(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
        .request_async(http)
        .await
        .map_err(|e| SsoError::Exchange(error_chain(&e)))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| SsoError::InvalidToken("the token response has no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
        .map_err(|e| match e {
            openidconnect::ClaimsVerificationError::InvalidNonce(_) => SsoError::WrongNonce,
            other => SsoError::InvalidToken(error_chain(&other)),
        })?;
    let department = match department_claim {
        // The token was verified just above; read the one extra claim
        // from its payload rather than declaring a custom claims type.
        Some(claim) => extra_claim(&id_token.to_string(), claim),
        None => None,
    };
    Ok(Identity {
        subject: claims.subject().to_string(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string()),
        department,
        id_token: id_token.to_string(),
    })
}

/// A string claim from a JWT's payload (the caller has verified the JWT).
fn extra_claim(jwt: &str, claim: &str) -> Option<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    match value.get(claim)? {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        // Some providers send groups-like claims as a list: take the first.
        serde_json::Value::Array(items) => items
            .iter()
            .find_map(|i| i.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// An error and its causes on one line, for the log.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extra_claim_is_read_from_the_payload_as_text_or_first_of_a_list() {
        use base64::Engine;
        let encode = |json: &str| {
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
            )
        };
        let jwt = encode(r#"{"department":" Sales ","groups":["Ops","x"],"n":3}"#);
        assert_eq!(extra_claim(&jwt, "department").as_deref(), Some("Sales"));
        assert_eq!(extra_claim(&jwt, "groups").as_deref(), Some("Ops"));
        assert_eq!(extra_claim(&jwt, "n"), None);
        assert_eq!(extra_claim(&jwt, "missing"), None);
        assert_eq!(extra_claim("not a jwt", "department"), None);
    }
}
