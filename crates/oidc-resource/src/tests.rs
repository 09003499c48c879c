//! RFC 6750 errors and the claim checks of RFC 9068 §4.

use serde_json::json;

use super::*;

struct Fixed(i64);
impl Clock for Fixed {
    fn now(&self) -> UnixTime {
        UnixTime(self.0)
    }
}

fn verifier(now: i64) -> Verifier {
    Verifier::new(Config::new("https://op/realms/r", "https://api.example/"), Arc::new(Fixed(now))).unwrap()
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn errors_are_rfc6750_3_challenges() {
    let (s, c) = AuthError::Missing.challenge("api");
    assert_eq!((s, c.as_deref()), (StatusCode::UNAUTHORIZED, Some("Bearer realm=\"api\"")), "§3.1: no error code");
    let (s, c) = AuthError::InvalidToken("it \"expired\"".into()).challenge("api");
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(c.unwrap(), "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"it 'expired'\"");
    let (s, c) = AuthError::InsufficientScope("notes write".into()).challenge("api");
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(c.unwrap().ends_with("scope=\"notes write\""), "§3: the scope needed");
    let r: ErrorResponse = AuthError::InvalidRequest("two tokens".into()).response("api");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()[http::header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_request"));
}

#[test]
fn issuer_audience_and_expiry_are_checked_rfc9068_4() {
    let v = verifier(1000);
    let ok = json!({"iss": "https://op/realms/r", "aud": ["https://api.example/", "x"], "exp": 1001, "sub": "u",
                    "client_id": "c", "scope": "openid notes"});
    let p = v.principal(claims(ok.clone())).unwrap();
    assert_eq!(
        (p.subject.as_str(), p.client_id.as_str(), p.scopes.clone()),
        ("u", "c", vec!["openid".to_owned(), "notes".to_owned()])
    );
    let mut bad = ok.clone();
    bad["iss"] = json!("https://evil/realms/r");
    assert!(matches!(v.principal(claims(bad)), Err(AuthError::InvalidToken(_))));
    let mut bad = ok.clone();
    bad["aud"] = json!("https://other.example/");
    assert!(matches!(v.principal(claims(bad)), Err(AuthError::InvalidToken(_))));
    let mut bad = ok;
    bad["exp"] = json!(1000);
    assert!(matches!(v.principal(claims(bad)), Err(AuthError::InvalidToken(_))), "expired at exp");
}

#[test]
fn scopes_are_required_and_named_rfc6750_3_1() {
    let p = Principal {
        subject: "u".into(),
        client_id: "c".into(),
        scopes: vec!["notes".into()],
        expires_at: UnixTime(5),
        claims: Map::new(),
    };
    assert!(require_scopes(p.clone(), &["notes"]).is_ok());
    assert_eq!(require_scopes(p, &["notes", "write"]).unwrap_err(), AuthError::InsufficientScope("notes write".into()));
}

#[test]
fn only_compact_jws_with_a_typ_are_taken_for_jwts() {
    let h = |v: Value| oidc_core::jose::b64(v.to_string().as_bytes());
    assert_eq!(
        jwt_type(&format!("{}.e30.sig", h(json!({"typ": "at+jwt", "alg": "RS256"})))).as_deref(),
        Some("at+jwt")
    );
    assert_eq!(jwt_type("opaque-token"), None);
    assert_eq!(jwt_type(&format!("{}.e30", h(json!({"typ": "at+jwt"})))), None);
}

#[tokio::test]
async fn a_request_without_a_bearer_token_is_refused_without_network_rfc6750_2_1() {
    let v = verifier(0);
    let mut headers = HeaderMap::new();
    assert_eq!(v.check(&headers, &[]).await.unwrap_err(), AuthError::Missing);
    headers.insert(http::header::AUTHORIZATION, http::HeaderValue::from_static("Basic abc"));
    assert!(matches!(v.check(&headers, &[]).await, Err(AuthError::InvalidRequest(_))));
    // A JWT whose typ is not at+jwt is refused before any key is fetched (RFC 9068 §4).
    let id_token_like = format!("{}.e30.c2ln", oidc_core::jose::b64(br#"{"typ":"JWT","alg":"RS256"}"#));
    let mut cfg = Config::new("https://op/realms/r", "a");
    cfg.mode = Mode::Jwt;
    let v = Verifier::new(cfg, Arc::new(Fixed(0))).unwrap();
    assert!(matches!(v.verify(&id_token_like, &[]).await, Err(AuthError::InvalidToken(_))));
}
