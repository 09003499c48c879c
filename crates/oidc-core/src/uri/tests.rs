//! Strict URI parsing against adversarial input: what browsers read, host matching, pairwise sectors.

use super::*;
use crate::manage::check_redirect_uri;
use crate::subject::sector_identifier;

#[test]
fn uris_that_browsers_read_differently_are_refused() {
    for bad in [
        "https://evil.example\\.trusted.example/cb",
        "https://evil.example\\@trusted.example/cb",
        "https://trusted.example@evil.example/cb",
        "https://user:pw@trusted.example/cb",
        "https://trusted%2eexample/cb",
        "https://evil.example%2f.trusted.example/cb",
        "https://exämple.example/cb",
        "https://EXAMPLE.example%00/cb",
        "http://0x7f.1/cb",
        "http://2130706433/cb",
        "http://127.1/cb",
        "https:/trusted.example/cb",
        "https:trusted.example/cb",
        "https://trusted.example /cb",
        "https://[fe80::1%25eth0]/cb",
        "https://trusted.example\t/cb",
    ] {
        assert!(parse(bad).is_err(), "{bad} must be refused");
    }
    for good in [
        "https://trusted.example/cb",
        "https://Trusted.Example:8443/cb?x=1",
        "https://xn--exmple-cua.example/cb",
        "http://127.0.0.1:51004/cb",
        "http://[::1]/cb",
        "com.example.app:/oauth2redirect",
        "https://trusted.example./cb",
    ] {
        assert!(parse(good).is_ok(), "{good} must be accepted");
    }
}

#[test]
fn hosts_compare_as_labels_never_as_text() {
    assert!(host_matches("a.trusted.example", "*.trusted.example"));
    assert!(host_matches("trusted.example", "*.trusted.example"));
    assert!(!host_matches("eviltrusted.example", "*.trusted.example"));
    assert!(!host_matches("trusted.example.evil", "*.trusted.example"));
    assert!(host_matches("TRUSTED.example", "trusted.example"));
    assert!(!host_matches("trusted.example.", "trusted.example"), "a trailing dot is another name here");
}

#[test]
fn loopback_is_decided_on_the_parsed_host_rfc8252_7_3() {
    assert!(parse("http://127.0.0.1:8/cb").unwrap().is_loopback(false));
    assert!(parse("http://[::1]:8/cb").unwrap().is_loopback(false));
    assert!(!parse("http://localhost.evil.example/").unwrap().is_loopback(true));
    assert!(!parse("http://127.0.0.1.evil.example/").unwrap().is_loopback(false));
    assert!(parse("http://localhost:3000/").unwrap().is_loopback(true));
    assert!(!parse("http://localhost:3000/").unwrap().is_loopback(false));
    assert!(check_web_uri("logo_uri", "http://localhost.evil.example/").is_err());
    assert!(check_web_uri("logo_uri", "http://127.0.0.1:9/logo.png").is_ok());
    assert!(check_web_uri("logo_uri", "https://rp.example/logo.png").is_ok());
    assert!(check_web_uri("logo_uri", "javascript:alert(1)").is_err());
}

#[test]
fn pairwise_sectors_count_private_use_schemes_and_loopback_as_hosts_oidc_core_8_1() {
    let uris = |u: &[&str]| u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // The attack of the security review: the victim's https redirect plus the attacker's app scheme.
    let mixed = uris(&["https://victim.example/cb", "com.attacker.app:/cb"]);
    assert!(sector_identifier(&mixed, None).is_err(), "two parties: a sector_identifier_uri is needed");
    let mixed = uris(&["https://victim.example/cb", "http://127.0.0.1:9/cb"]);
    assert!(sector_identifier(&mixed, None).is_err());
    assert_eq!(
        sector_identifier(&uris(&["https://Rp.example/a", "https://rp.example/b"]), None).unwrap(),
        "rp.example"
    );
    assert!(sector_identifier(&uris(&["com.example.app:/cb"]), None).is_err(), "anyone can claim an app scheme");
    assert!(sector_identifier(&uris(&["https://rp.example\\.x.example/cb"]), None).is_err());
    assert_eq!(
        sector_identifier(&mixed, Some("https://sector.example/uris.json")).unwrap(),
        "sector.example",
        "with a sector_identifier_uri the sector is its host"
    );
}

/// A small deterministic generator (xorshift), so the property test needs no crate and repeats exactly.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
    }
}

/// Property: whatever adversarial pieces a redirect URI is built from (IDN,
/// percent-encoded dots, trailing dots, IPv6 zones, mixed case, backslashes,
/// userinfo, odd IPv4 forms), if it is accepted then a WHATWG parser finds no
/// userinfo and the same host as the text shows, and an http one is on loopback.
#[test]
fn accepted_redirect_uris_read_the_same_to_browsers_property() {
    let schemes = ["https://", "http://", "HTTPS://", "https:/", "https:\\\\", "com.example.app:/", ""];
    let userinfo = ["", "", "", "user@", "a:b@", "trusted.example@", "%40@"];
    let hosts = [
        "trusted.example",
        "TRUSTED.Example",
        "a.trusted.example",
        "evil.example\\.trusted.example",
        "evil.example%2etrusted.example",
        "trusted.example.",
        "xn--exmple-cua.example",
        "exämple.example",
        "127.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "[::1]",
        "[fe80::1%25eth0]",
        "[::ffff:127.0.0.1]",
        "localhost",
        "localhost.evil.example",
        "",
    ];
    let ports = ["", ":443", ":8080", ":0", ":99999", ":abc"];
    let paths = ["/cb", "", "/cb?x=1", "/cb#frag", "\\cb", "/%2e%2e/cb", "/cb/../x", "?a=b"];
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let uri =
            format!("{}{}{}{}{}", g.pick(&schemes), g.pick(&userinfo), g.pick(&hosts), g.pick(&ports), g.pick(&paths));
        if check_redirect_uri(&uri).is_err() {
            continue;
        }
        accepted += 1;
        let parsed = Url::parse(&uri).unwrap_or_else(|e| panic!("accepted '{uri}' does not parse: {e}"));
        assert!(parsed.username().is_empty() && parsed.password().is_none(), "userinfo in {uri}");
        assert!(!uri.contains('\\') && !uri.contains('#'), "{uri}");
        assert_eq!(
            parsed.host_str().map(str::to_ascii_lowercase),
            naive_host(&uri).map(|h| h.to_ascii_lowercase()),
            "the host of {uri}"
        );
        if parsed.scheme() == "http" {
            assert!(parse(&uri).unwrap().is_loopback(true), "http only on loopback: {uri}");
        }
    }
    assert!(accepted > 500, "the generator produced too few valid URIs ({accepted}) to mean anything");
}

/// Property: a trusted-host policy `*.trusted.example` accepts a URI only when a
/// browser would also send the request to a host under `trusted.example`.
#[test]
fn trusted_host_matching_agrees_with_browsers_property() {
    let hosts = [
        "trusted.example",
        "a.trusted.example",
        "a.b.trusted.example",
        "eviltrusted.example",
        "trusted.example.evil",
        "evil.example\\.trusted.example",
        "evil.example%2e.trusted.example",
        "evil.example\\@trusted.example",
        "trusted.example@evil.example",
        "A.TRUSTED.EXAMPLE",
        "xn--trsted-zxa.example",
    ];
    let tails = ["/cb", ":8443/cb", "\\cb", "?x", ""];
    for h in hosts {
        for t in tails {
            let uri = format!("https://{h}{t}");
            let ours =
                parse(&uri).ok().and_then(|u| u.host()).is_some_and(|host| host_matches(&host, "*.trusted.example"));
            let browser = Url::parse(&uri).ok().and_then(|u| u.host_str().map(str::to_owned));
            if ours {
                let b = browser.unwrap_or_default();
                assert!(b == "trusted.example" || b.ends_with(".trusted.example"), "{uri}: browsers go to {b}");
            }
        }
    }
}
