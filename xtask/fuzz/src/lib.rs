//! Fixtures shared by the fuzz targets: a confidential client with a secret and
//! keys, and the issuer, so that targets exercise the same code as requests do.

use oidc_core::manage::{self, ClientSpec};
use oidc_core::model::{Client, ClientType};
use oidc_core::rand::TestRandom;
use oidc_core::time::UnixTime;

/// The issuer the fuzzed requests are addressed to.
pub const ISSUER: &str = "https://op.example/realms/main";

/// A confidential client with a redirect URI, a loopback redirect URI, and a secret.
pub fn client() -> Client {
    let spec = ClientSpec::new(
        "Fuzz RP",
        ClientType::Confidential,
        vec!["https://rp.example/cb".into(), "http://127.0.0.1/cb".into()],
    );
    match manage::new_client("main", spec, UnixTime(1_000), &TestRandom::default()) {
        Ok((c, _)) => c,
        Err(e) => panic!("the fixture client is valid: {e}"),
    }
}

/// Bytes as text, as a server would receive them after UTF-8 decoding.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
