//! Which media type a GraphQL answer is sent as, from the request's `Accept` header, as the
//! GraphQL-over-HTTP specification describes: `application/graphql-response+json` for a
//! client that asks for it, `application/json` for every client that does not say.

use axum::http::{HeaderMap, HeaderValue, header};

/// The two media types a GraphQL answer can be sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResponseMedia {
    /// `application/json`: what clients that predate the specification understand. A
    /// well-formed request is answered 200 unless its errors call for 401, 429 or 503.
    Json,
    /// `application/graphql-response+json`: the status says whether the request ran. A
    /// request error (it did not parse, validate or coerce its variables) is a 4xx with no
    /// `data`; an answer that has `data` is a 200.
    GraphqlResponse,
}

/// The `Accept` header names neither media type, nor a range that covers one.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotAcceptable;

impl ResponseMedia {
    /// The media type the client prefers, `application/json` when it has no preference.
    /// A wildcard (`*/*`, `application/*`) picks `application/json`, the one every client
    /// reads; naming both types with the same weight picks the newer one.
    pub(super) fn negotiate(headers: &HeaderMap) -> Result<Self, NotAcceptable> {
        let accept: Vec<&str> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter(|range| !range.trim().is_empty())
            .collect();
        if accept.is_empty() {
            return Ok(Self::Json);
        }
        let json = preference(&accept, "application/json");
        let graphql = preference(&accept, "application/graphql-response+json");
        match (json, graphql) {
            (None, None) => Err(NotAcceptable),
            (Some(_), None) => Ok(Self::Json),
            (None, Some(_)) => Ok(Self::GraphqlResponse),
            (Some(json), Some(graphql)) if graphql > json => Ok(Self::GraphqlResponse),
            (Some(json), Some(graphql)) if graphql == json && graphql.specificity == EXACT => {
                Ok(Self::GraphqlResponse)
            }
            (Some(_), Some(_)) => Ok(Self::Json),
        }
    }

    /// The `Content-Type` of an answer in this media type; always UTF-8.
    pub(super) fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }
}

/// How much a client wants one media type: the weight of the most specific range in its
/// `Accept` that covers the type, and how specific that range is (`*/*` 0, `type/*` 1,
/// the type itself [`EXACT`]).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct Preference {
    weight: f32,
    specificity: u8,
}

/// The specificity of a range that names the media type itself.
const EXACT: u8 = 2;

/// The client's preference for `media` (`type/subtype`), or `None` when no range covers
/// it or the most specific one gives it weight 0 (`q=0`: "not this").
fn preference(accept: &[&str], media: &str) -> Option<Preference> {
    let (kind, _) = media.split_once('/')?;
    let mut best: Option<Preference> = None;
    for range in accept {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let specificity = if name.eq_ignore_ascii_case(media) {
            EXACT
        } else if name
            .strip_suffix("/*")
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(kind))
        {
            1
        } else if name == "*/*" {
            0
        } else {
            continue;
        };
        let weight = parts
            .filter_map(|parameter| parameter.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|best| specificity > best.specificity) {
            best = Some(Preference {
                weight,
                specificity,
            });
        }
    }
    best.filter(|preference| preference.weight > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &[&str]) -> Result<ResponseMedia, NotAcceptable> {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        ResponseMedia::negotiate(&headers)
    }

    #[test]
    fn clients_that_do_not_say_get_json() {
        assert_eq!(negotiate(&[]), Ok(ResponseMedia::Json));
        assert_eq!(negotiate(&[""]), Ok(ResponseMedia::Json));
        assert_eq!(negotiate(&["*/*"]), Ok(ResponseMedia::Json));
        assert_eq!(negotiate(&["application/*"]), Ok(ResponseMedia::Json));
        assert_eq!(
            negotiate(&["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"]),
            Ok(ResponseMedia::Json)
        );
    }

    #[test]
    fn the_preferred_type_wins() {
        assert_eq!(
            negotiate(&["application/graphql-response+json"]),
            Ok(ResponseMedia::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json, application/json"]),
            Ok(ResponseMedia::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&[
                "application/json;q=0.9",
                "application/graphql-response+json"
            ]),
            Ok(ResponseMedia::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json;q=0.5, application/json"]),
            Ok(ResponseMedia::Json)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json, */*;q=0.1"]),
            Ok(ResponseMedia::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["Application/JSON; charset=utf-8"]),
            Ok(ResponseMedia::Json)
        );
    }

    #[test]
    fn a_type_refused_by_weight_zero_or_not_covered_is_not_acceptable() {
        assert_eq!(negotiate(&["text/html"]), Err(NotAcceptable));
        assert_eq!(
            negotiate(&["application/json;q=0, text/plain"]),
            Err(NotAcceptable)
        );
        // The most specific range decides: `*/*` does not bring back a type refused by name.
        assert_eq!(
            negotiate(&["application/json;q=0, */*"]),
            Ok(ResponseMedia::GraphqlResponse)
        );
    }
}
