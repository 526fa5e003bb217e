//! Static assets, built into the binary so that Chorus runs from any folder.
//! Pages link to fingerprinted names (`chorus-<hash>.css`) that can be cached
//! for a year; the plain names still work, with a short cache. The
//! platform icons are under `/static/icons/`; the stylesheet names them
//! (`url(icons/x.svg)`) and is served with their fingerprinted names in
//! place, so they are cached for a year too.

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

/// A platform's icon (`static/icons/`, from simple-icons, CC0: see the
/// README there).
macro_rules! icon {
    ($slug:literal) => {
        Asset {
            name: concat!("icons/", $slug, ".svg"),
            body: include_str!(concat!("../../static/icons/", $slug, ".svg")),
            content_type: "image/svg+xml",
        }
    };
}

const ASSETS: [Asset; 12] = [
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
    icon!("linkedin"),
    icon!("x"),
    icon!("facebook"),
    icon!("mastodon"),
    icon!("bluesky"),
    icon!("threads"),
    icon!("xing"),
    icon!("reddit"),
];

/// `chorus.css` → `chorus-1a2b3c4d5e.css`, from the content's SHA-256.
fn fingerprinted(name: &str, body: &str) -> String {
    let hash = hex::encode(Sha256::digest(body.as_bytes()));
    let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
    format!("{stem}-{}.{extension}", &hash[..10])
}

/// The assets as served: their bodies (the stylesheet with the icons'
/// fingerprinted names in place) and fingerprinted names, worked out once.
struct Served {
    bodies: Vec<String>,
    names: Vec<String>,
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        // Icons first: the stylesheet's name then follows their contents.
        let icon_names: Vec<(&str, String)> = ASSETS
            .iter()
            .filter(|a| a.name.starts_with("icons/"))
            .map(|a| (a.name, fingerprinted(a.name, a.body)))
            .collect();
        let bodies: Vec<String> = ASSETS
            .iter()
            .map(|a| {
                let mut body = a.body.to_string();
                if a.name.ends_with(".css") {
                    for (plain, printed) in &icon_names {
                        body = body.replace(&format!("url({plain})"), &format!("url({printed})"));
                    }
                }
                body
            })
            .collect();
        let names = ASSETS
            .iter()
            .zip(&bodies)
            .map(|(a, body)| fingerprinted(a.name, body))
            .collect();
        Served { bodies, names }
    })
}

fn names() -> &'static Vec<String> {
    &served().names
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
    serve_named(file.into_inner())
}

/// `/static/icons/{file}`: the platform icons.
pub async fn serve_icon(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    serve_named(format!("icons/{}", file.into_inner()))
}

fn serve_named(file: String) -> Result<HttpResponse, AppError> {
    let (index, immutable) = match ASSETS.iter().position(|a| a.name == file) {
        Some(i) => (i, false),
        None => match names().iter().position(|n| *n == file) {
            Some(i) => (i, true),
            None => return Err(AppError::not_found()),
        },
    };
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, ASSETS[index].content_type))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(served().bodies[index].as_str()))
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
        assert_ne!(
            format!("/static/{}", fingerprinted("chorus.css", "body{}")),
            css
        );
    }

    #[test]
    fn the_stylesheet_names_every_platform_icon_by_its_fingerprinted_name() {
        let css = &served().bodies[0];
        for platform in crate::domain::platforms::Platform::ALL {
            let icon = url(&format!("icons/{}.svg", platform.slug()));
            let prefix = format!("/static/icons/{}-", platform.slug());
            assert!(
                icon.starts_with(&prefix) && icon.ends_with(".svg"),
                "{icon}"
            );
            let relative = icon.trim_start_matches("/static/");
            assert!(css.contains(&format!("url({relative})")), "{relative}");
        }
    }
}
