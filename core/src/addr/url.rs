//! Whether a boot URL can be fetched at all: checked before the first request, so a typo is
//! named once instead of being retried round after round.

use std::net::Ipv6Addr;

use crate::errors::UrlError;

/// Checks that `url` is an `http://` or `https://` URL with a usable host (a DNS name, an IPv4
/// literal or a bracketed IPv6 literal) and, if given, a port from 1 to 65535. The path, query
/// and fragment are left to the server. Schemes are matched without regard to case.
///
/// ```
/// use pyrsia_boot_core::{check_boot_url, UrlError};
/// assert!(check_boot_url("http://boot.example.org/status").is_ok());
/// assert_eq!(check_boot_url("boot.example.org/status"), Err(UrlError::NoScheme));
/// ```
pub fn check_boot_url(url: &str) -> Result<(), UrlError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Whitespace);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlError::NoScheme);
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        let shown: String = scheme.chars().take(16).collect();
        return Err(UrlError::UnsupportedScheme(shown));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials before '@' are the server's business; the host comes after the last one.
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or(UrlError::BadHost)?;
            host.parse::<Ipv6Addr>().map_err(|_| UrlError::BadHost)?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or(UrlError::BadHost)?),
                ),
            }
        }
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if !host_port.starts_with('[') && !is_dns_host(host) {
        return Err(UrlError::BadHost);
    }
    match port {
        // RFC 3986 §3.2.3: an empty port means the scheme's default.
        None | Some("") => Ok(()),
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u32>() {
                Ok(1..=65535) => Ok(()),
                _ => Err(UrlError::BadPort),
            }
        }
        Some(_) => Err(UrlError::BadPort),
    }
}

/// A host name of dot-separated labels of letters, digits, '-' and '_' (1–63 bytes each, no
/// label starting or ending with '-'), at most 253 bytes; a trailing dot is allowed. IPv4
/// literals are of this shape.
fn is_dns_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_boot_urls_pass() {
        for url in [
            "http://boot.pyrsia.link/status",
            "HTTPS://boot.example.org:8443/status?x=1#top",
            "http://203.0.113.7:8080/status",
            "http://[2001:db8::1]:81/status",
            "http://[2001:db8::1]/status",
            "http://boot.example.org.",
            "http://user:pw@boot.example.org/status",
            "http://boot.example.org:/status",
            "http://boot_1.test/status",
        ] {
            assert_eq!(check_boot_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn typos_are_named() {
        let cases = [
            ("boot.example/status", UrlError::NoScheme),
            ("", UrlError::NoScheme),
            (
                "ftp://boot.example/",
                UrlError::UnsupportedScheme("ftp".into()),
            ),
            ("http:/boot.example/status", UrlError::NoScheme),
            ("http:///status", UrlError::NoHost),
            ("http://:8080/status", UrlError::NoHost),
            ("http://boot..example/", UrlError::BadHost),
            ("http://-boot.example/", UrlError::BadHost),
            ("http://bo*t.example/", UrlError::BadHost),
            ("http://[2001:db8::1/status", UrlError::BadHost),
            ("http://[not-v6]/status", UrlError::BadHost),
            ("http://[2001:db8::1]x/status", UrlError::BadHost),
            ("http://boot.example:99999/status", UrlError::BadPort),
            ("http://boot.example:0/status", UrlError::BadPort),
            ("http://boot.example:80a/status", UrlError::BadPort),
            ("http://boot.example:1:2/status", UrlError::BadPort),
            ("http://boot example/status", UrlError::Whitespace),
            ("http://boot.example/status\n", UrlError::Whitespace),
        ];
        for (url, want) in cases {
            assert_eq!(check_boot_url(url), Err(want), "{url:?}");
        }
    }

    #[test]
    fn long_hosts_and_labels_are_refused() {
        let label = "a".repeat(64);
        assert_eq!(
            check_boot_url(&format!("http://{label}.example/")),
            Err(UrlError::BadHost)
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(
            check_boot_url(&format!("http://{long}/")),
            Err(UrlError::BadHost)
        );
    }
}
