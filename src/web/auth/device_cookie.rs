//! Device cookies (OWASP Authentication Cheat Sheet): a browser that signed
//! in to an account gets a cookie binding that account to a random nonce,
//! signed with the server's secret. Password attempts that carry a valid one
//! for the account are throttled on the nonce's own bucket, so an attack on
//! the account from elsewhere never slows its known browsers.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::web::AppState;

const LIFETIME_DAYS: i64 = 365;

pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-chorus_device"
    } else {
        "chorus_device"
    }
}

fn mac(secret: &[u8], user_id: i64, nonce: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("chorus-device-cookie|{user_id}|{nonce}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A fresh device cookie for the account.
pub fn issue(state: &AppState, user_id: i64) -> Cookie<'static> {
    let nonce = crate::credentials::random_token();
    let value = format!(
        "{user_id}.{nonce}.{}",
        mac(&state.secret_key, user_id, &nonce)
    );
    Cookie::build(cookie_name(state.secure_cookies), value)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::days(LIFETIME_DAYS))
        .finish()
}

/// The nonce of the request's device cookie when it is valid for `user_id`.
pub fn nonce_for(state: &AppState, req: &HttpRequest, user_id: i64) -> Option<String> {
    let cookie = req.cookie(cookie_name(state.secure_cookies))?;
    let mut parts = cookie.value().splitn(3, '.');
    let (id, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if id.parse::<i64>().ok()? != user_id {
        return None;
    }
    // Compare MACs in constant time.
    let mut check = Hmac::<Sha256>::new_from_slice(&state.secret_key).ok()?;
    check.update(format!("chorus-device-cookie|{user_id}|{nonce}").as_bytes());
    let given = hex::decode(signature).ok()?;
    check.verify_slice(&given).ok()?;
    Some(nonce.to_string())
}
