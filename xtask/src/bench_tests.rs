//! Tests of the bench's argument parsing, HTML scraping and statistics.

use std::time::Duration;

use super::{attr, html_unescape, parse_args, percentile, tag_with};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn parses_defaults_and_options() {
    let o = parse_args(&[]).expect("defaults");
    assert_eq!((o.seconds, o.levels), (5, vec![1, 8, 32]));
    let o = parse_args(&args(&["--seconds", "3", "--concurrency", "1, 4"])).expect("options");
    assert_eq!((o.seconds, o.levels), (3, vec![1, 4]));
    let o = parse_args(&args(&["--seconds=2", "--concurrency=16"])).expect("inline values");
    assert_eq!((o.seconds, o.levels), (2, vec![16]));
}

#[test]
fn rejects_bad_options() {
    for bad in [
        &["--seconds"][..],
        &["--seconds", "0"],
        &["--seconds", "x"],
        &["--concurrency", "1,,2"],
        &["--concurrency", "0"],
        &["--fast"],
    ] {
        assert!(parse_args(&args(bad)).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn scrapes_the_login_form() {
    let page = r#"<form method="post" action="http://127.0.0.1:1/realms/main/login-actions/authenticate?a=1&amp;b=2" id="login-form">
  <input type="hidden" name="csrf_token" value="c&#x2f;s+r=f">
  <input type="hidden" name="authz" value="x&amp;y&quot;z&#39;&lt;&gt;&bogus; &">
  <input id="username" name="username" type="text" value="">"#;
    let form = tag_with(page, "id=\"login-form\"").expect("form");
    let action = html_unescape(&attr(form, "action").expect("action"));
    assert_eq!(action, "http://127.0.0.1:1/realms/main/login-actions/authenticate?a=1&b=2");
    let csrf = tag_with(page, "name=\"csrf_token\"").and_then(|t| attr(t, "value")).expect("csrf");
    assert_eq!(html_unescape(&csrf), "c/s+r=f");
    let authz = tag_with(page, "name=\"authz\"").and_then(|t| attr(t, "value")).expect("authz");
    assert_eq!(html_unescape(&authz), "x&y\"z'<>&bogus; &");
    assert_eq!(tag_with(page, "name=\"missing\""), None);
    assert_eq!(attr(form, "class"), None);
}

#[test]
fn nearest_rank_percentiles() {
    let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    assert_eq!(percentile(&ms, 0.50), Some(Duration::from_millis(50)));
    assert_eq!(percentile(&ms, 0.99), Some(Duration::from_millis(99)));
    assert_eq!(percentile(&ms[..1], 0.99), Some(Duration::from_millis(1)));
    assert_eq!(percentile(&[], 0.5), None);
}
