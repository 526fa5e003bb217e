//! The ceiling for `benches/run.sh`: the smallest actix-web handler that
//! renders an askama page, built with the same profile and served on the
//! same machine as Chorus. Each Chorus endpoint is reported as a ratio of
//! this figure, which makes results comparable between machines.
//!
//!   cargo bench --bench ceiling -- --listen 127.0.0.1:8090
//!
//! Without `--listen` (as under `cargo test --all-targets`) it only says
//! how to run it.

use actix_web::{App, HttpResponse, HttpServer, web};
use askama::Template;

#[derive(Template)]
#[template(
    source = "<!doctype html><html lang=\"en\"><title>{{ title }}</title><h1>{{ title }}</h1><p>{{ body }}</p></html>",
    ext = "html"
)]
struct Page<'a> {
    title: &'a str,
    body: &'a str,
}

async fn page() -> HttpResponse {
    let html = Page {
        title: "Ceiling",
        body: "The smallest page an actix-web handler can render with askama.",
    }
    .render()
    .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(address) = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
    else {
        println!("ceiling: pass --listen ADDRESS to serve (benches/run.sh does)");
        return Ok(());
    };
    let workers = std::env::var("CHORUS_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| App::new().route("/", web::get().to(page)))
            .workers(workers)
            .bind(address)?
            .run(),
    )
}
