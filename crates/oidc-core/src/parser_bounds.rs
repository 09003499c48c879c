//! Every parser that sees request data does work at most linear in its input.
//!
//! A security review found a quadratic `scope` parser: 64 KB of scope cost 0.4 s
//! of CPU before the client was even authenticated. These tests feed each parser
//! adversarial input of size `n` and `16 n` and require the larger to cost no more
//! than 80 times the smaller (linear work costs about 16 times, quadratic about
//! 256 times). They compare two measurements of the same run, so they hold on a
//! slow or busy machine; the minimum of interleaved runs filters out scheduling noise.

use std::time::{Duration, Instant};

use crate::authorize;
use crate::claims::ClaimsRequest;
use crate::model::ResponseType;
use crate::params::{self, Params};
use crate::registration;
use crate::scope::Scope;
use crate::token;
use crate::userinfo;

/// Checks that `parse(make(16 n))` costs at most 80 times `parse(make(n))`
/// (plus 5 ms for timer resolution). The two sizes are measured alternately,
/// nine times each, and the fastest run of each counts, so that a burst of
/// load on a shared machine hits both alike and cannot fake a quadratic ratio.
fn assert_linear(name: &str, make: impl Fn(usize) -> String, parse: impl Fn(&str)) {
    let n = 4096;
    let (small, large) = (make(n), make(16 * n));
    let time = |input: &str| {
        let t = Instant::now();
        parse(input);
        t.elapsed()
    };
    let (mut t_small, mut t_large) = (Duration::MAX, Duration::MAX);
    for _ in 0..9 {
        t_small = t_small.min(time(&small));
        t_large = t_large.min(time(&large));
    }
    assert!(
        t_large <= t_small * 80 + Duration::from_millis(5),
        "{name}: {} bytes took {t_small:?}, {} bytes took {t_large:?}: worse than linear",
        small.len(),
        large.len()
    );
}

fn repeated(unit: &str, n: usize) -> String {
    unit.repeat(n / unit.len().max(1))
}

fn distinct_words(n: usize) -> String {
    (0..n / 6).map(|i| format!("w{i:04}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn scope_parse_is_linear_and_bounded_rfc6749_3_3() {
    assert_linear("scope, one token repeated", |n| repeated("a ", n), |s| drop(Scope::parse(s)));
    assert_linear("scope, distinct tokens", distinct_words, |s| drop(Scope::parse(s)));
    assert_linear("scope, one long token", |n| "a".repeat(n), |s| drop(Scope::parse(s)));
    // Beyond the bounds the parse is refused, not truncated.
    assert!(Scope::parse(&distinct_words(6 * (params::MAX_WORDS + 1))).is_err());
    assert!(Scope::parse(&"a".repeat(params::MAX_WORD_LEN + 1)).is_err());
    let at_limit = distinct_words(6 * params::MAX_WORDS);
    assert_eq!(Scope::parse(&at_limit).map(|s| s.iter().count()), Ok(params::MAX_WORDS));
}

#[test]
fn response_type_parse_is_linear() {
    assert_linear("response_type", |n| repeated("code ", n), |s| drop(s.parse::<ResponseType>()));
}

#[test]
fn params_from_pairs_is_linear_and_bounded_rfc6749_3_1() {
    let pairs = |n: usize| (0..n / 8).map(|i| format!("k{i:05}=v&")).collect::<String>();
    assert_linear("form pairs", pairs, |s| {
        drop(Params::from_pairs(s.split('&').filter_map(|p| p.split_once('='))));
    });
    let many = (0..=params::MAX_PARAMS).map(|i| (format!("k{i}"), "v".to_owned()));
    assert!(Params::from_pairs(many).is_err());
}

#[test]
fn authorization_request_parse_is_linear_oidc_core_3_1_2_1() {
    for name in ["prompt", "acr_values", "ui_locales", "claims_locales", "scope", "response_type"] {
        assert_linear(
            name,
            |n| repeated("login ", n),
            |v| {
                let r = authorize::parse([("client_id", "c"), ("response_type", "code"), (name, v)]);
                drop(r.map(|r| r.client_id().to_owned()));
            },
        );
    }
}

#[test]
fn claims_parameter_parse_is_linear_oidc_core_5_5() {
    let members = |n: usize| {
        let body: Vec<String> = (0..n / 16).map(|i| format!("\"c{i:05}\":null")).collect();
        format!("{{\"userinfo\":{{{}}}}}", body.join(","))
    };
    assert_linear("claims members", members, |s| drop(ClaimsRequest::parse(s)));
    // Deep nesting is refused by the JSON parser's recursion limit, not a stack overflow.
    assert!(ClaimsRequest::parse(&"[".repeat(100_000)).is_err());
}

#[test]
fn jose_compact_parse_is_linear_rfc7515_7_1() {
    assert_linear("many dots", |n| ".".repeat(n), |s| drop(crate::jose::verify(s, &["RS256"], &[])));
    assert_linear(
        "long segments",
        |n| format!("{}.{}.{}", "a".repeat(n / 3), "b".repeat(n / 3), "c".repeat(n / 3)),
        |s| drop(crate::jose::verify(s, &["RS256"], &[])),
    );
    assert_linear("base64url", |n| "A".repeat(n), |s| drop(crate::jose::b64_decode(s)));
}

#[test]
fn registration_metadata_parse_is_linear_rfc7591_2() {
    let uris = |n: usize| {
        let list: Vec<String> = (0..n / 32).map(|i| format!("\"https://rp.example/cb{i:06}\"")).collect();
        format!("{{\"redirect_uris\":[{}]}}", list.join(","))
    };
    assert_linear("redirect_uris", uris, |s| {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
            drop(registration::parse_metadata(&v, &[]));
        }
    });
}

#[test]
fn client_credentials_and_bearer_parse_are_linear_rfc6749_2_3_1_rfc6750_2_1() {
    assert_linear(
        "basic auth",
        |n| format!("Basic {}", "QUFB".repeat(n / 4)),
        |h| drop(token::parse(Params::default(), Some(h))),
    );
    assert_linear("form-encoded credentials", |n| repeated("%41", n), |s| drop(params::form_urldecode(s)));
    assert_linear(
        "bearer",
        |n| format!("Bearer {}", "a".repeat(n)),
        |h| drop(userinfo::bearer_token(Some(h), None, None)),
    );
}
