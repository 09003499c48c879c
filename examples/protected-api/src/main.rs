//! Runs the example API: `OIDC_ISSUER=http://127.0.0.1:8080/realms/main
//! API_AUDIENCE=https://api.example/ API_CLIENT_ID=... API_CLIENT_SECRET=...
//! cargo run -p protected-api` (the client credentials are for introspection).
#![allow(clippy::disallowed_macros)]

use std::sync::Arc;

use oidc_core::time::{Clock, UnixTime};

/// The system clock.
struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

#[tokio::main]
async fn main() {
    let var = |k: &str| std::env::var(k).ok();
    let (Some(issuer), Some(audience)) = (var("OIDC_ISSUER"), var("API_AUDIENCE")) else {
        eprintln!("set OIDC_ISSUER and API_AUDIENCE (and API_CLIENT_ID / API_CLIENT_SECRET for opaque tokens)");
        std::process::exit(2);
    };
    let mut config = oidc_resource::Config::new(issuer, audience);
    config.introspection_client = var("API_CLIENT_ID").zip(var("API_CLIENT_SECRET"));
    let verifier = match oidc_resource::Verifier::new(config, Arc::new(SystemClock)) {
        Ok(v) => Arc::new(v),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let listen = var("LISTEN").unwrap_or_else(|| "127.0.0.1:8090".into());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    };
    println!("Listening on http://{listen} (GET /notes, GET /tower/notes; scope {})", protected_api::SCOPE);
    protected_api::serve(listener, verifier).await;
}
