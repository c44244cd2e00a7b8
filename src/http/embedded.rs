//! Files compiled into the binary and served as they are: GraphiQL's bundle and the example
//! account page, both built from npm packages ahead of time and committed.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// An [`Asset`] from the file `$name` in `$directory` (relative to the crate's root).
macro_rules! asset {
    ($directory:literal, $name:literal, $content_type:expr) => {
        $crate::http::embedded::Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/",
                $directory,
                "/",
                $name
            )),
        }
    };
}
pub(super) use asset;

/// One embedded file.
pub(super) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

/// `name` from `assets`, or 404. `cache_control` says how long a browser may keep it.
pub(super) fn serve(assets: &[Asset], name: &str, cache_control: &'static str) -> Response {
    let Some(asset) = assets.iter().find(|asset| asset.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// An HTML page under its content-security policy, revalidated on every load.
pub(super) fn page(html: impl Into<Body>, content_security_policy: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(HTML)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(content_security_policy),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        html.into(),
    )
        .into_response()
}

pub(super) const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
pub(super) const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
pub(super) const TEXT: &str = "text/plain; charset=utf-8";
