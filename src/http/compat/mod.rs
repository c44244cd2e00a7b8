//! The seed REST APIs (Flashback, laravel-devices, Ruuvi Cloud), served beside GraphQL
//! for clients that already speak them. Each is a thin adapter over the same service
//! calls the GraphQL resolvers make, admitted the same way (client rate, bearer session
//! token, session rate), so a REST revoke is a revoke: same rules, same security log,
//! same pushes. What each API owns is its paths, its field names and its envelopes.
//!
//! The routes and the OpenAPI document come from the same annotations (utoipa), so the
//! document served at `<prefix>/openapi.json` cannot drift from what is routed.

mod flashback;
mod laravel;
mod refusal;
mod ruuvi;

use axum::{Router, body::Bytes, http::header, routing::get};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        OpenApi, Server,
        security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
    },
};
use utoipa_axum::router::OpenApiRouter;

use refusal::{Caller, Dialect, Refused, method_not_allowed, refusal_components, unrouted};

use super::{AppState, observe::Surface};
use crate::config::{CompatApi, CompatConfig};

/// The OpenAPI document of `api` as served under `prefix`.
pub fn openapi_document(api: CompatApi, prefix: &str) -> OpenApi {
    let (_, document) = split(api);
    finish_document(document, prefix)
}

/// The OpenAPI document of `api`, pretty-printed as it is checked in.
pub fn openapi_json(api: CompatApi, prefix: &str) -> String {
    let json = openapi_document(api, prefix)
        .to_pretty_json()
        .expect("an OpenAPI document serialises");
    json + "\n"
}

/// Every enabled compatibility API, each nested under its prefix with its OpenAPI
/// document at `<prefix>/openapi.json`, unless introspection is off (in production): the
/// documents are to REST what introspection is to GraphQL, and are checked in for clients.
pub(super) fn routes(state: &AppState, config: &CompatConfig) -> anyhow::Result<Router<AppState>> {
    check_apart(config)?;
    let mut routes = Router::new();
    for (api, prefix) in config.enabled() {
        check_prefix(api, prefix)?;
        let (mut router, document) = split(api);
        if state.api.introspection_enabled() {
            let document = Bytes::from(finish_document(document, prefix).to_pretty_json()?);
            router = router.route(
                "/openapi.json",
                get(
                    move || async move { ([(header::CONTENT_TYPE, "application/json")], document) },
                ),
            );
        }
        let router = super::at_the_edge(router, state, Surface::Rest(api));
        routes = routes.nest(prefix, router);
    }
    Ok(routes)
}

/// `api`'s routes and its document (before it is given a prefix).
fn split(api: CompatApi) -> (Router<AppState>, OpenApi) {
    match api {
        CompatApi::Flashback => in_dialect::<flashback::Flashback>(flashback::router()),
        CompatApi::Laravel => in_dialect::<laravel::Laravel>(laravel::router()),
        CompatApi::Ruuvi => in_dialect::<ruuvi::Ruuvi>(ruuvi::router()),
    }
}

/// The routes, with unknown paths and methods answered in the API's own shape rather than
/// axum's empty bodies; and the document, with the refusals its operations refer to and
/// the error body they are sent as.
fn in_dialect<D: Dialect>(router: OpenApiRouter<AppState>) -> (Router<AppState>, OpenApi) {
    let (router, mut document) = router.split_for_parts();
    let components = document.components.get_or_insert_with(Default::default);
    let mut error_schemas = vec![(D::Error::name().into_owned(), D::Error::schema())];
    D::Error::schemas(&mut error_schemas);
    components.schemas.extend(error_schemas);
    components.responses.extend(refusal_components::<D>());
    let router = router
        .fallback(unrouted::<D>)
        .method_not_allowed_fallback(method_not_allowed::<D>);
    (router, document)
}

/// A prefix is a path of its own: `/` and one or more segments, no trailing slash, so
/// that two APIs (or an API and GraphQL) cannot be mounted over each other by accident.
fn check_prefix(api: CompatApi, prefix: &str) -> anyhow::Result<()> {
    let segments_ok = prefix
        .strip_prefix('/')
        .is_some_and(|rest| !rest.is_empty() && rest.split('/').all(|s| !s.is_empty()));
    let taken = [
        "/graphql",
        "/admin",
        "/graphiql",
        "/account",
        "/healthz",
        "/readyz",
    ]
    .iter()
    .any(|ours| at_or_under(prefix, ours));
    anyhow::ensure!(
        segments_ok && !taken,
        "the {} API's prefix `{prefix}` must be a path such as `/compat/{}`, not one of the server's own",
        api.name(),
        api.name()
    );
    Ok(())
}

/// Whether `path` is `outer` itself or a path below it (`/a/b` is under `/a`, `/ab` is not).
fn at_or_under(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// No enabled API may be mounted at or under another's prefix: their routes would clash.
fn check_apart(config: &CompatConfig) -> anyhow::Result<()> {
    let enabled: Vec<_> = config.enabled().collect();
    for (index, (api, prefix)) in enabled.iter().enumerate() {
        for (other, other_prefix) in &enabled[index + 1..] {
            anyhow::ensure!(
                !at_or_under(other_prefix, prefix) && !at_or_under(prefix, other_prefix),
                "the {} and {} APIs' prefixes `{prefix}` and `{other_prefix}` overlap; give each a path of its own",
                api.name(),
                other.name()
            );
        }
    }
    Ok(())
}

/// The document as a client uses it: served under `prefix`, every operation behind a
/// bearer session token.
fn finish_document(mut document: OpenApi, prefix: &str) -> OpenApi {
    document.servers = Some(vec![Server::new(prefix)]);
    document.security = Some(vec![SecurityRequirement::new(
        "bearerAuth",
        Vec::<String>::new(),
    )]);
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).build()),
        );
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_apis_cannot_share_a_prefix() {
        let mut config = crate::config::Config::default().compat;
        config.compat_apis = CompatApi::ALL.to_vec();
        assert!(check_apart(&config).is_ok());
        config.ruuvi_prefix = "/compat/flashback".into();
        assert!(check_apart(&config).is_err());
        config.ruuvi_prefix = "/compat/flashback/ruuvi".into();
        assert!(check_apart(&config).is_err());
        config.ruuvi_prefix = "/compat/flashback-ruuvi".into();
        assert!(check_apart(&config).is_ok());
    }

    #[test]
    fn prefixes_are_paths_of_their_own() {
        for good in ["/compat/flashback", "/v1", "/a/b/c"] {
            assert!(check_prefix(CompatApi::Ruuvi, good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/",
            "compat",
            "/compat/",
            "//x",
            "/graphql",
            "/graphql/x",
            "/admin",
        ] {
            assert!(check_prefix(CompatApi::Ruuvi, bad).is_err(), "{bad}");
        }
    }
}
