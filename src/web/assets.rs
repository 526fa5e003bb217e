//! Static assets, built into the binary so that Chorus runs from any folder.
//! Pages link to fingerprinted names (`chorus-<hash>.css`) that can be cached
//! for a year; the plain names still work, with a short cache.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use super::error::AppError;

struct Asset {
    name: &'static str,
    body: &'static str,
    content_type: &'static str,
}

const ASSETS: [Asset; 4] = [
    Asset {
        name: "chorus.css",
        body: include_str!("../../static/chorus.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        name: "chorus.js",
        body: include_str!("../../static/chorus.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "composer.js",
        body: include_str!("../../static/composer.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "favicon.svg",
        body: include_str!("../../static/favicon.svg"),
        content_type: "image/svg+xml",
    },
];

/// `chorus.css` → `chorus-1a2b3c4d5e.css`, from the content's SHA-256.
fn fingerprinted(asset: &Asset) -> String {
    let hash = hex::encode(Sha256::digest(asset.body.as_bytes()));
    let (stem, extension) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
    format!("{stem}-{}.{extension}", &hash[..10])
}

fn names() -> &'static Vec<String> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| ASSETS.iter().map(fingerprinted).collect())
}

/// The URL pages use for an asset (its fingerprinted name).
pub fn url(name: &str) -> String {
    let found = ASSETS.iter().position(|a| a.name == name);
    match found {
        Some(i) => format!("/static/{}", names()[i]),
        None => format!("/static/{name}"),
    }
}

pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    let file = file.into_inner();
    let (asset, immutable) = match ASSETS.iter().position(|a| a.name == file) {
        Some(i) => (&ASSETS[i], false),
        None => match names().iter().position(|n| *n == file) {
            Some(i) => (&ASSETS[i], true),
            None => return Err(AppError::not_found()),
        },
    };
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(asset.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_to_fingerprinted_names_that_change_with_the_content() {
        let css = url("chorus.css");
        assert!(
            css.starts_with("/static/chorus-")
                && css.ends_with(".css")
                && css.len() == "/static/chorus-".len() + 10 + 4
        );
        assert_eq!(url("chorus.css"), css, "stable");
        let other = Asset {
            name: "chorus.css",
            body: "body{}",
            content_type: "text/css",
        };
        assert_ne!(format!("/static/{}", fingerprinted(&other)), css);
    }
}
