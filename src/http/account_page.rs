//! The example account page (`examples/account-page`), at `/account` in development: a
//! user's "where you're signed in" page on this API, built ahead of time and embedded.

use axum::{Router, extract::Path, response::Response, routing::get};

use super::{
    AppState,
    embedded::{self, Asset, CSS, JAVASCRIPT, asset},
};

const PAGE: &[u8] = include_bytes!("../../examples/account-page/dist/index.html");

const ASSETS: &[Asset] = &[
    asset!("examples/account-page/dist", "app.js", JAVASCRIPT),
    asset!("examples/account-page/dist", "app.css", CSS),
];

/// The page's own script, styles and connections; nothing else, and no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(page))
        .route("/account/{name}", get(asset))
}

async fn page() -> Response {
    embedded::page(PAGE, CONTENT_SECURITY_POLICY)
}

async fn asset(Path(name): Path<String>) -> Response {
    // Not versioned: revalidated on every load, like the page.
    embedded::serve(ASSETS, &name, "no-cache")
}
