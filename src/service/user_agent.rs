//! What a user agent says about a device: browser, operating system, form factor, and a
//! name a person recognises. Parsing is woothee's; this module only translates its
//! vocabulary into ours.

use entity::device::DeviceType;

const UNKNOWN: &str = "UNKNOWN";
/// Longest version kept (its column's size). woothee copies versions out of the user agent
/// as long as they run (for some agents, whatever bytes follow); a longer one, or one with
/// control characters, is noise, not a version.
const MAX_VERSION_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUserAgent {
    pub browser_name: Option<String>,
    pub browser_version: Option<String>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub device_type: DeviceType,
    /// A default device name such as "Chrome on macOS" or "Safari on iPhone".
    pub display_name: String,
}

fn known(value: &str) -> Option<&str> {
    (!value.is_empty() && value != UNKNOWN).then_some(value)
}

fn version(value: &str) -> Option<String> {
    known(value)
        .filter(|version| {
            version.chars().count() <= MAX_VERSION_CHARS && !version.chars().any(char::is_control)
        })
        .map(str::to_owned)
}

pub fn parse(user_agent: Option<&str>) -> ParsedUserAgent {
    let result = user_agent.and_then(|ua| Some((ua, woothee::parser::Parser::new().parse(ua)?)));
    let Some((user_agent, result)) = result else {
        return ParsedUserAgent {
            browser_name: None,
            browser_version: None,
            os_name: None,
            os_version: None,
            device_type: DeviceType::Unknown,
            display_name: "Unknown device".to_owned(),
        };
    };

    // woothee names some systems by product ("Mac OSX", "iPhone", "Windows 10"); people and
    // the contract expect the system's own name, with the version apart.
    let (os_name, os_version, os_label) = match known(result.os) {
        Some("Mac OSX") => (Some("macOS".to_owned()), None, Some("macOS")),
        Some("iPhone") | Some("iPod") => (Some("iOS".to_owned()), None, known(result.os)),
        Some("iPad") => (Some("iPadOS".to_owned()), None, Some("iPad")),
        Some(windows) if windows.starts_with("Windows ") && windows != "Windows Phone OS" => {
            let release = windows.trim_start_matches("Windows ");
            let release = (release != "UNKNOWN Ver").then(|| release.to_owned());
            (Some("Windows".to_owned()), release, Some("Windows"))
        }
        Some(other) => (Some(other.to_owned()), None, Some(other)),
        None => (None, None, None),
    };
    let os_version = os_version.or_else(|| version(&result.os_version));

    let device_type = match result.category {
        "pc" => DeviceType::Desktop,
        "smartphone" | "mobilephone" => {
            // iPads report as smartphones; Android tablets omit "Mobile" from their user
            // agent, which is Google's documented way to tell them from phones.
            let android_tablet = result.os == "Android" && !user_agent.contains("Mobile");
            if result.os == "iPad" || android_tablet {
                DeviceType::Tablet
            } else {
                DeviceType::Mobile
            }
        }
        _ => DeviceType::Unknown,
    };

    // woothee names Samsung's browser by its user-agent token; people know it by its name.
    let browser_name = known(result.name).map(|name| match name {
        "SamsungBrowser" => "Samsung Internet".to_owned(),
        other => other.to_owned(),
    });
    let display_name = match (&browser_name, os_label) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.clone(),
        (None, Some(os)) => format!("{os} device"),
        (None, None) => "Unknown device".to_owned(),
    };
    ParsedUserAgent {
        browser_version: browser_name.as_ref().and_then(|_| version(result.version)),
        browser_name,
        os_name,
        os_version,
        device_type,
        display_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_on_macos_is_a_desktop() {
        let parsed = parse(Some(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        ));
        assert_eq!(parsed.display_name, "Chrome on macOS");
        assert_eq!(parsed.browser_name.as_deref(), Some("Chrome"));
        assert_eq!(parsed.browser_version.as_deref(), Some("131.0.0.0"));
        assert_eq!(parsed.os_name.as_deref(), Some("macOS"));
        assert_eq!(parsed.device_type, DeviceType::Desktop);
    }

    #[test]
    fn safari_on_iphone_is_a_mobile() {
        let parsed = parse(Some(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ));
        assert_eq!(parsed.display_name, "Safari on iPhone");
        assert_eq!(parsed.os_name.as_deref(), Some("iOS"));
        assert_eq!(parsed.os_version.as_deref(), Some("17.4"));
        assert_eq!(parsed.device_type, DeviceType::Mobile);
    }

    #[test]
    fn ipad_and_android_tablet_are_tablets() {
        let ipad = parse(Some(
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        ));
        assert_eq!(ipad.device_type, DeviceType::Tablet);
        assert_eq!(ipad.display_name, "Safari on iPad");
        let android_tablet = parse(Some(
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        ));
        assert_eq!(android_tablet.device_type, DeviceType::Tablet);
        let android_phone = parse(Some(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        ));
        assert_eq!(android_phone.device_type, DeviceType::Mobile);
        assert_eq!(android_phone.display_name, "Chrome on Android");
    }

    #[test]
    fn windows_version_is_split_from_its_name() {
        let parsed = parse(Some(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ));
        assert_eq!(parsed.display_name, "Firefox on Windows");
        assert_eq!(parsed.os_version.as_deref(), Some("10"));
    }

    /// woothee takes whatever follows `KDDI-` as the version (found by the `client_input`
    /// fuzz target); what cannot be a version is dropped, the rest still parses.
    #[test]
    fn versions_that_cannot_be_versions_are_dropped() {
        let plain = parse(Some("KDDI-CA3F UP.Browser/6.2"));
        assert_eq!(plain.browser_name.as_deref(), Some("au by KDDI"));
        assert!(plain.browser_version.is_some());
        for noise in [
            format!("KDDI-{}", "9".repeat(65)),
            "KDDI-CA\0\t3F".to_owned(),
        ] {
            let parsed = parse(Some(&noise));
            assert_eq!(
                parsed.browser_name.as_deref(),
                Some("au by KDDI"),
                "{noise:?}"
            );
            assert_eq!(parsed.browser_version, None, "{noise:?}");
        }
    }

    #[test]
    fn unparseable_or_missing_user_agent_is_an_unknown_device() {
        for ua in [None, Some(""), Some("curl/8.5.0"), Some("\u{0}garbage")] {
            let parsed = parse(ua);
            assert_eq!(parsed.device_type, DeviceType::Unknown, "{ua:?}");
            assert!(!parsed.display_name.is_empty());
        }
    }
}
