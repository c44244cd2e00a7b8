//! Who is on the other end of a request: address, location and user agent.
//!
//! Forwarding and location headers are believed only when the peer is a configured
//! trusted proxy; anyone else could write whatever they like into them. Where no header
//! gave a location, a configured MaxMind database is asked.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};
use maxminddb::{Reader, geoip2};

use crate::{
    config::{ClientInfoConfig, ProxyHeader},
    service::ClientInfo,
};

const MAX_CITY_CHARS: usize = 100;

/// Turns a request's peer address and headers into [`ClientInfo`].
pub struct ClientLookup {
    config: ClientInfoConfig,
    geoip: Option<Reader<Vec<u8>>>,
}

impl ClientLookup {
    /// Opens the configured GeoIP database, if any, once for the server's lifetime.
    pub fn new(config: ClientInfoConfig) -> Result<Self, maxminddb::MaxMindDbError> {
        let geoip = match &config.geoip_database {
            Some(path) => Some(Reader::open_readfile(path)?),
            None => None,
        };
        Ok(Self { config, geoip })
    }

    pub fn client_info(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientInfo {
        let config = &self.config;
        let peer_ip = peer.ip().to_canonical();
        let from_trusted_proxy = is_trusted(config, peer_ip);
        let ip = if from_trusted_proxy {
            forwarded_client(config, headers).unwrap_or(peer_ip)
        } else {
            peer_ip
        };
        let header_text = |name: &Option<String>| {
            let name = name.as_deref()?;
            headers.get(name)?.to_str().ok().map(str::trim)
        };
        let (mut country, mut city) = if from_trusted_proxy {
            (
                header_text(&config.country_header).and_then(country_code),
                header_text(&config.city_header).and_then(city_name),
            )
        } else {
            (None, None)
        };
        if country.is_none() && city.is_none() {
            (country, city) = self.locate(ip);
        }
        ClientInfo {
            ip_address: Some(ip.to_string()),
            country,
            city,
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// Country and city of `ip` from the GeoIP database; a miss or a lookup error is "unknown".
    fn locate(&self, ip: IpAddr) -> (Option<String>, Option<String>) {
        let Some(reader) = &self.geoip else {
            return (None, None);
        };
        let record = reader
            .lookup(ip)
            .ok()
            .and_then(|found| found.decode::<geoip2::City>().ok().flatten());
        let Some(record) = record else {
            return (None, None);
        };
        (
            record.country.iso_code.and_then(country_code),
            record.city.names.english.and_then(city_name),
        )
    }
}

fn is_trusted(config: &ClientInfoConfig, ip: IpAddr) -> bool {
    config.trusted_proxies.iter().any(|net| net.contains(&ip))
}

/// The client address from the header the proxies write (the other one is the client's
/// to forge): the right-most hop that is not itself a trusted proxy, because each proxy
/// appends what it saw and only the part our own proxies wrote can be believed.
fn forwarded_client(config: &ClientInfoConfig, headers: &HeaderMap) -> Option<IpAddr> {
    let hops: Vec<IpAddr> = match config.proxy_header {
        ProxyHeader::XForwardedFor => joined(headers, "x-forwarded-for")?
            .split(',')
            .filter_map(parse_hop)
            .collect(),
        ProxyHeader::Forwarded => joined(headers, "forwarded")?
            .split([',', ';'])
            .filter_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim().eq_ignore_ascii_case("for").then_some(value)
            })
            .filter_map(parse_hop)
            .collect(),
    };
    let mut client = None;
    for hop in hops.into_iter().rev() {
        client = Some(hop);
        if !is_trusted(config, hop) {
            break;
        }
    }
    client
}

/// All values of a header that may be repeated, joined as one list.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// One hop: `203.0.113.7`, `"[2001:db8::1]:4711"`, `198.51.100.1:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|inner| inner.parse::<IpAddr>().ok())
}

/// An ISO 3166-1 alpha-2 code. Proxies' placeholders for "unknown" (`XX`) and Tor (`T1`)
/// are not countries.
fn country_code(value: &str) -> Option<String> {
    let code = value.to_ascii_uppercase();
    let is_code = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
    (is_code && code != "XX").then_some(code)
}

fn city_name(value: &str) -> Option<String> {
    let fits = !value.is_empty()
        && value.chars().count() <= MAX_CITY_CHARS
        && !value.chars().any(char::is_control);
    fits.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(proxies: &[&str]) -> ClientInfoConfig {
        ClientInfoConfig {
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            proxy_header: ProxyHeader::XForwardedFor,
            country_header: Some("cf-ipcountry".into()),
            city_header: Some("cf-ipcity".into()),
            geoip_database: None,
        }
    }

    fn client_info(config: &ClientInfoConfig, peer: SocketAddr, headers: &HeaderMap) -> ClientInfo {
        ClientLookup::new(config.clone())
            .unwrap()
            .client_info(peer, headers)
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers_are_ignored() {
        let info = client_info(
            &config(&["10.0.0.0/8"]),
            peer("198.51.100.9"),
            &headers(&[("x-forwarded-for", "1.2.3.4"), ("cf-ipcountry", "DE")]),
        );
        assert_eq!(info.ip_address.as_deref(), Some("198.51.100.9"));
        assert_eq!(info.country, None);
    }

    #[test]
    fn trusted_proxy_chain_yields_the_rightmost_untrusted_hop() {
        let info = client_info(
            &config(&["10.0.0.0/8"]),
            peer("10.0.0.2"),
            &headers(&[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
                ("x-forwarded-for", "10.0.0.5"),
                ("cf-ipcountry", "de"),
                ("cf-ipcity", "Berlin"),
            ]),
        );
        assert_eq!(info.ip_address.as_deref(), Some("203.0.113.7"));
        assert_eq!(info.country.as_deref(), Some("DE"));
        assert_eq!(info.city.as_deref(), Some("Berlin"));
    }

    #[test]
    fn forwarded_header_is_understood() {
        let config = ClientInfoConfig {
            proxy_header: ProxyHeader::Forwarded,
            ..config(&["127.0.0.1/32"])
        };
        let info = client_info(
            &config,
            peer("127.0.0.1"),
            &headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]),
        );
        assert_eq!(info.ip_address.as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        // The client wrote one header, the proxy the other: the proxy's counts.
        let forged = &headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=203.0.113.7"),
        ]);
        let behind_forwarded = ClientInfoConfig {
            proxy_header: ProxyHeader::Forwarded,
            ..config(&["10.0.0.0/8"])
        };
        let info = client_info(&behind_forwarded, peer("10.0.0.2"), forged);
        assert_eq!(info.ip_address.as_deref(), Some("203.0.113.7"));
        let forged = &headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        let info = client_info(&config(&["10.0.0.0/8"]), peer("10.0.0.2"), forged);
        assert_eq!(info.ip_address.as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn placeholder_and_malformed_countries_are_dropped() {
        for bad in ["XX", "T1", "Germany", ""] {
            assert_eq!(country_code(bad), None, "{bad}");
        }
    }
}
