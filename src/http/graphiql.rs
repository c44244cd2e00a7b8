//! GraphiQL at `/graphiql`, served whole from the binary: the page, and the bundle that
//! `tools/graphiql` builds from pinned npm packages into `graphiql/assets/` (committed, so
//! `cargo build` needs no npm). Nothing is fetched from elsewhere at run time, and the
//! page's content-security policy allows nothing else.

use axum::{Router, extract::Path, response::Response, routing::get};

use super::{
    AppState,
    embedded::{self, Asset, CSS, JAVASCRIPT, TEXT, asset},
};

/// Where the assets are served; the page tells the bundle (`data-assets`).
const ASSETS_PATH: &str = "/graphiql/assets";

/// The GraphiQL the assets were built from, and after the dash our page's revision of
/// them, in their URLs so that a new bundle is never served from a browser's cache of the
/// last one.
const VERSION: &str = "5.4.0-2";

/// The bundle, as `tools/graphiql/build.mjs` writes it.
const ASSETS: &[Asset] = &[
    asset!("src/http/graphiql/assets", "graphiql.js", JAVASCRIPT),
    asset!("src/http/graphiql/assets", "graphiql.css", CSS),
    asset!("src/http/graphiql/assets", "editor.worker.js", JAVASCRIPT),
    asset!("src/http/graphiql/assets", "json.worker.js", JAVASCRIPT),
    asset!("src/http/graphiql/assets", "graphql.worker.js", JAVASCRIPT),
    asset!("src/http/graphiql/assets", "THIRD_PARTY_LICENSES.txt", TEXT),
];

/// Only the server's own scripts, styles, workers and connections. Monaco sets styles
/// inline and its icon font is a data URL; nothing may frame the page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; worker-src 'self'; \
     style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes: the page, and its assets.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/graphiql", get(page))
        .route("/graphiql/assets/{name}", get(asset))
}

async fn page() -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sessionhub · GraphiQL</title>
<link rel="stylesheet" href="{ASSETS_PATH}/graphiql.css?v={VERSION}">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body data-endpoint="/graphql" data-subscriptions="/graphql/ws" data-assets="{ASSETS_PATH}" data-version="{VERSION}">
<div id="graphiql">Loading GraphiQL…</div>
<script src="{ASSETS_PATH}/graphiql.js?v={VERSION}"></script>
</body>
</html>
"#
    );
    embedded::page(html, CONTENT_SECURITY_POLICY)
}

async fn asset(Path(name): Path<String>) -> Response {
    // Versioned URLs: a day in the cache is safe.
    embedded::serve(ASSETS, &name, "public, max-age=86400")
}
