//! Independent relying-party libraries, unmodified, driving the provider over
//! HTTP: openid-client (npm; OpenID Certified, on oauth4webapi) runs
//! `tests/node/openid_client.mjs`. (python-keycloak and keycloak-js, libraries
//! written for Keycloak, run in `keycloak.rs` and `browser.rs`.)

use crate::harness::Env;

/// `target/npm`, where `cargo xtask ci` installs the npm packages the tests run.
fn npm_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm")
}

/// OpenID Connect Core 1.0 §3.1, RFC 7591, RFC 7636, RFC 9207, RFC 7662, RFC
/// 7009 and RP-Initiated Logout 1.0 as a strict certified relying party checks
/// them: dynamic registration with an initial access token, the code flow with
/// PKCE through the provider's own login and consent forms, the authorization
/// response's `iss` and the id_token validated, UserInfo, refresh,
/// introspection, revocation, and the end-session URL.
#[tokio::test]
async fn openid_client_registers_signs_in_refreshes_introspects_and_revokes() {
    let dir = npm_dir();
    assert!(
        dir.join("node_modules/openid-client").exists(),
        "{} has no openid-client: `cargo xtask ci` installs it \
         (npm install --no-save --prefix target/npm openid-client@6.9.1 keycloak-js@26.2.4)",
        dir.display()
    );
    let env = Env::start().await;
    env.user("alice", "wonderland-42").await;
    let iat = crate::registration::initial_token(&env, 1, 3600).await;
    // Node resolves the library next to the script, so the script runs from target/npm.
    let script = dir.join("openid_client.mjs");
    std::fs::copy(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node/openid_client.mjs"), &script).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args([env.issuer().as_str(), iat.as_str(), "alice", "wonderland-42"])
        .output()
        .await
        .expect("node (Node.js) on the PATH");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openid-client failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 10, "{stdout}");
}
