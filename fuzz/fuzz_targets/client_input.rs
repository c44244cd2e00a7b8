//! What a client sends about itself: user agent, forwarding and location headers (here
//! arriving through a trusted proxy, the path where they are parsed). Parsing must never
//! panic, and what it keeps must fit the columns it is stored in.
#![no_main]

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sessionhub::{config::ClientInfoConfig, http::ClientLookup, service::user_agent};

fn lookup() -> &'static ClientLookup {
    static LOOKUP: OnceLock<ClientLookup> = OnceLock::new();
    LOOKUP.get_or_init(|| {
        ClientLookup::new(ClientInfoConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            country_header: Some("cf-ipcountry".into()),
            city_header: Some("cf-ipcity".into()),
            geoip_database: None,
        })
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    // Split the input into four header values.
    let mut parts = data.splitn(4, |byte| *byte == b'\n');
    let mut headers = HeaderMap::new();
    for name in ["x-forwarded-for", "forwarded", "cf-ipcountry", "cf-ipcity"] {
        if let Some(Ok(value)) = parts.next().map(HeaderValue::from_bytes) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let info = lookup().client_info("10.1.2.3:443".parse().unwrap(), &headers);
    let ip = info.ip_address.expect("a client always has an address");
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    assert!(info.country.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
    assert!(info.city.is_none_or(|c| c.chars().count() <= 100));

    let agent = String::from_utf8_lossy(data);
    let parsed = user_agent::parse(Some(&agent));
    assert!(!parsed.display_name.is_empty());
    // The columns: names and versions 64 characters, the device name 100.
    let fits = |value: &Option<String>| value.as_ref().is_none_or(|v| v.chars().count() <= 64);
    assert!(fits(&parsed.browser_name) && fits(&parsed.browser_version), "{parsed:?}");
    assert!(fits(&parsed.os_name) && fits(&parsed.os_version), "{parsed:?}");
    assert!(parsed.display_name.chars().count() <= 100, "{parsed:?}");
});
