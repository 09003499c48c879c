//! Dynamic client registration: OpenID Connect Dynamic Client Registration
//! 1.0, RFC 7591 (registration) and RFC 7592 (the client configuration
//! endpoint), with Keycloak's registration policies.
//!
//! ```text
//!  JSON body ──parse_metadata──▶ Metadata ──Policies::check(requester, count)──▶ Metadata (adjusted)
//!      Metadata ──to_spec──▶ ClientSpec ──manage::new_client──▶ Client
//!      Client + Metadata ──response──▶ JSON (RFC 7591 §3.2.1) with the registration access token
//! ```
//!
//! Unknown members are ignored and never echoed (RFC 7591 §3.1). Metadata
//! this provider recognizes but cannot honour yet is refused with
//! `invalid_client_metadata` rather than silently dropped, so a client never
//! believes it got a behaviour it does not get.

use serde_json::{Map, Value, json};

use crate::manage::{ClientSpec, check_redirect_uri};
use crate::model::{Client, ClientType, GrantType, JwtAlg, ResponseType};
use crate::scope::{Scope, ScopeRegistry};
use crate::subject::{SubjectType, sector_identifier};
use crate::time::UnixTime;

/// A refused registration (RFC 7591 §3.2.2, RFC 7592 §2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// `invalid_redirect_uri`: a redirect URI is missing or not acceptable.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata`: a metadata value is invalid or unsupported.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// A registration policy refused the request (answered 403), naming the rule.
    #[error("policy '{rule}' refused the request: {reason}")]
    Policy {
        /// The policy's name (`trusted-hosts`, `max-clients`, ...).
        rule: &'static str,
        /// Why.
        reason: String,
    },
}

impl RegistrationError {
    /// The RFC 7591 error code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            RegistrationError::InvalidClientMetadata(_) | RegistrationError::Policy { .. } => "invalid_client_metadata",
        }
    }

    /// The description, in the characters `error_description` allows.
    pub fn description(&self) -> String {
        let text = match self {
            RegistrationError::InvalidRedirectUri(d) | RegistrationError::InvalidClientMetadata(d) => d.clone(),
            RegistrationError::Policy { rule, reason } => format!("policy '{rule}' refused the request: {reason}"),
        };
        crate::error::description_text(&text)
    }
}

fn bad(msg: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(msg.into())
}

/// How the client authenticates at the token endpoint (RFC 7591 §2).
pub use crate::model::TokenAuthMethod as AuthMethod;

/// Client metadata this provider understands, parsed and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    /// `redirect_uris`.
    pub redirect_uris: Vec<String>,
    /// `response_types`.
    pub response_types: Vec<ResponseType>,
    /// `grant_types`, as registered (including `implicit`).
    pub grant_types: Vec<String>,
    /// `application_type`: `web` or `native`.
    pub application_type: String,
    /// `client_name`.
    pub client_name: Option<String>,
    /// `client_uri`.
    pub client_uri: Option<String>,
    /// `logo_uri`.
    pub logo_uri: Option<String>,
    /// `tos_uri`.
    pub tos_uri: Option<String>,
    /// `policy_uri`.
    pub policy_uri: Option<String>,
    /// `contacts`.
    pub contacts: Vec<String>,
    /// `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: AuthMethod,
    /// `id_token_signed_response_alg`.
    pub id_token_signed_response_alg: JwtAlg,
    /// `subject_type`.
    pub subject_type: SubjectType,
    /// `sector_identifier_uri`.
    pub sector_identifier_uri: Option<String>,
    /// `post_logout_redirect_uris`.
    pub post_logout_redirect_uris: Vec<String>,
    /// `scope`: narrows the scopes the client may request.
    pub scope: Option<Scope>,
    /// `require_auth_time` (auth_time is always in id_tokens here, so it is honoured).
    pub require_auth_time: bool,
    /// `jwks`: the client's public keys, as JSON.
    pub jwks: Option<String>,
    /// `default_max_age`.
    pub default_max_age: Option<i64>,
    /// `userinfo_signed_response_alg`.
    pub userinfo_signed_response_alg: Option<JwtAlg>,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `frontchannel_logout_uri`, `backchannel_logout_uri` and their
    /// `_session_required` flags (Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2).
    pub logout: crate::model::ClientLogout,
}

fn flag(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>, RegistrationError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(format!("{name} must be true or false"))),
    }
}

/// The logout members of client metadata (the same names in both
/// representations), over `base`.
fn logout_members(
    obj: &Map<String, Value>,
    base: &crate::model::ClientLogout,
) -> Result<crate::model::ClientLogout, RegistrationError> {
    let mut out = base.clone();
    for (name, field) in
        [("frontchannel_logout_uri", &mut out.frontchannel_uri), ("backchannel_logout_uri", &mut out.backchannel_uri)]
    {
        if obj.contains_key(name) {
            let v = string(obj, name)?;
            if let Some(u) = &v {
                crate::manage::check_logout_uri(u, name).map_err(bad)?;
            }
            *field = v;
        }
    }
    if let Some(b) = flag(obj, "frontchannel_logout_session_required")? {
        out.frontchannel_session_required = b;
    }
    if let Some(b) = flag(obj, "backchannel_logout_session_required")? {
        out.backchannel_session_required = b;
    }
    Ok(out)
}

fn string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, RegistrationError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

/// The most entries a metadata array (redirect URIs, contacts, ...) may have.
const MAX_ARRAY: usize = 100;

fn strings(obj: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, RegistrationError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) if a.len() > MAX_ARRAY => Err(bad(format!("{name} has more than {MAX_ARRAY} entries"))),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad(format!("{name} must be an array of strings"))))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad(format!("{name} must be an array of strings"))),
    }
}

/// An https URL (or http on a loopback IP) for a client's web pages.
fn check_web_uri(name: &str, uri: &str) -> Result<(), RegistrationError> {
    crate::uri::check_web_uri(name, uri).map(|_| ()).map_err(bad)
}

/// Metadata that needs behaviour this provider does not have yet: refused,
/// never silently dropped.
const NOT_YET: &[&str] = &[
    "userinfo_encrypted_response_alg",
    "id_token_encrypted_response_alg",
    "request_object_signing_alg",
    "request_object_encryption_alg",
    "request_uris",
    "default_acr_values",
];

/// Parses and checks client metadata (RFC 7591 §2, OIDC Registration §2).
/// `supported_algs` are the id_token algorithms the realm can sign with.
pub fn parse_metadata(body: &Value, supported_algs: &[JwtAlg]) -> Result<Metadata, RegistrationError> {
    let obj = body.as_object().ok_or_else(|| bad("the request body must be a JSON object"))?;
    if let Some(name) = NOT_YET.iter().find(|n| obj.get(**n).is_some_and(|v| !v.is_null())) {
        return Err(bad(format!("{name} is not supported by this provider yet")));
    }
    let response_types: Vec<ResponseType> = match strings(obj, "response_types")? {
        None => vec![ResponseType::Code],
        Some(v) => v.iter().map(|r| r.parse::<ResponseType>().map_err(bad)).collect::<Result<Vec<_>, _>>()?,
    };
    let grant_types = strings(obj, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    for g in &grant_types {
        if !matches!(g.as_str(), "authorization_code" | "implicit" | "refresh_token" | "client_credentials") {
            return Err(bad(format!("grant_type '{g}' cannot be registered here")));
        }
    }
    // RFC 7591 §2.1: response types and grant types must agree.
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    if response_types.iter().any(|r| r.has_code()) && !has("authorization_code") {
        return Err(bad("response type 'code' needs the authorization_code grant type (RFC 7591 Section 2.1)"));
    }
    if response_types.iter().any(|r| r.has_id_token() || r.has_token()) && !has("implicit") {
        return Err(bad("response types with id_token or token need the implicit grant type (RFC 7591 Section 2.1)"));
    }
    if has("authorization_code") && !response_types.iter().any(|r| r.has_code()) {
        return Err(bad("the authorization_code grant type needs a response type with code (RFC 7591 Section 2.1)"));
    }
    let application_type = string(obj, "application_type")?.unwrap_or_else(|| "web".into());
    if !matches!(application_type.as_str(), "web" | "native") {
        return Err(bad("application_type must be web or native"));
    }
    let token_endpoint_auth_method = match string(obj, "token_endpoint_auth_method")?.as_deref() {
        None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
        Some("client_secret_post") => AuthMethod::ClientSecretPost,
        Some("client_secret_jwt") => AuthMethod::ClientSecretJwt,
        Some("private_key_jwt") => AuthMethod::PrivateKeyJwt,
        Some("none") => AuthMethod::None,
        Some(other) => return Err(bad(format!("token_endpoint_auth_method '{other}' is not supported"))),
    };
    let alg = match string(obj, "id_token_signed_response_alg")? {
        None => JwtAlg::Rs256,
        Some(a) => {
            let alg = a.parse::<JwtAlg>().map_err(bad)?;
            // Discovery §3: none only when no id_token comes from the authorization endpoint.
            if alg == JwtAlg::None {
                if response_types.iter().any(|r| r.has_id_token()) {
                    return Err(bad("id_token_signed_response_alg none is only for the code flow"));
                }
            } else if !supported_algs.contains(&alg) {
                return Err(bad(format!("id_token_signed_response_alg {a} has no signing key in this realm")));
            }
            alg
        }
    };
    let userinfo_signed_response_alg = match string(obj, "userinfo_signed_response_alg")? {
        None => None,
        Some(a) => {
            let alg = a.parse::<JwtAlg>().map_err(bad)?;
            if alg == JwtAlg::None || !supported_algs.contains(&alg) {
                return Err(bad(format!("userinfo_signed_response_alg {a} is not available in this realm")));
            }
            Some(alg)
        }
    };
    let default_max_age = match obj.get("default_max_age") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(v.as_i64().filter(|m| *m >= 0).ok_or_else(|| bad("default_max_age must be a non-negative integer"))?)
        }
    };
    if alg == JwtAlg::Hs256 && token_endpoint_auth_method == AuthMethod::None {
        return Err(bad("HS256 id_tokens need a client secret; a client with auth method none has none"));
    }
    if has("client_credentials") && token_endpoint_auth_method == AuthMethod::None {
        return Err(bad("client_credentials needs a confidential client (RFC 6749 Section 4.4)"));
    }
    let redirect_uris = strings(obj, "redirect_uris")?.unwrap_or_default();
    if response_types.is_empty() && has("authorization_code") {
        return Err(bad("the authorization_code grant type needs response type code"));
    }
    let needs_redirect = has("authorization_code") || has("implicit");
    if needs_redirect && redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris is required for the authorization_code and implicit grant types".into(),
        ));
    }
    let implicit = has("implicit");
    for u in &redirect_uris {
        check_redirect_uri(u).map_err(RegistrationError::InvalidRedirectUri)?;
        // OIDC Registration §2: web clients using implicit register only https, never localhost.
        if application_type == "web" && implicit && (!u.starts_with("https://") || u.contains("://localhost")) {
            return Err(RegistrationError::InvalidRedirectUri(format!(
                "web clients using the implicit grant must use https redirect URIs, not '{u}'"
            )));
        }
    }
    let post_logout_redirect_uris = strings(obj, "post_logout_redirect_uris")?.unwrap_or_default();
    for u in &post_logout_redirect_uris {
        check_redirect_uri(u).map_err(|e| bad(format!("post_logout_redirect_uris: {e}")))?;
    }
    let mut web_uris = Vec::new();
    for name in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        let v = string(obj, name)?;
        if let Some(u) = &v {
            check_web_uri(name, u)?;
        }
        web_uris.push(v);
    }
    let [client_uri, logo_uri, tos_uri, policy_uri]: [Option<String>; 4] =
        web_uris.try_into().map_err(|_| bad("internal: uri list"))?;
    let subject_type = match string(obj, "subject_type")? {
        None => SubjectType::Public,
        Some(s) => s.parse().map_err(bad)?,
    };
    let sector_identifier_uri = string(obj, "sector_identifier_uri")?;
    if subject_type == SubjectType::Pairwise {
        sector_identifier(&redirect_uris, sector_identifier_uri.as_deref()).map_err(bad)?;
    }
    let scope = match string(obj, "scope")? {
        None => None,
        Some(s) => Some(Scope::parse(&s).map_err(bad)?),
    };
    let require_auth_time = match obj.get("require_auth_time") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("require_auth_time must be a boolean")),
    };
    let jwks = match obj.get("jwks") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            crate::manage::check_jwks(&text).map_err(bad)?;
            Some(text)
        }
        Some(_) => return Err(bad("jwks must be a JWK Set object")),
    };
    let jwks_uri = string(obj, "jwks_uri")?;
    if let Some(u) = &jwks_uri {
        if !u.starts_with("https://") {
            return Err(bad("jwks_uri must be an https URL"));
        }
        if jwks.is_some() {
            return Err(bad("jwks and jwks_uri must not both be sent (RFC 7591 Section 2)"));
        }
    }
    if token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
        return Err(bad("private_key_jwt needs the client's keys in jwks or jwks_uri"));
    }
    let client_name = string(obj, "client_name")?;
    if client_name.as_ref().is_some_and(|n| n.len() > 200 || n.chars().any(char::is_control)) {
        return Err(bad("client_name must be at most 200 printable characters"));
    }
    Ok(Metadata {
        redirect_uris,
        response_types,
        grant_types,
        application_type,
        client_name,
        client_uri,
        logo_uri,
        tos_uri,
        policy_uri,
        contacts: strings(obj, "contacts")?.unwrap_or_default(),
        token_endpoint_auth_method,
        id_token_signed_response_alg: alg,
        subject_type,
        sector_identifier_uri,
        post_logout_redirect_uris,
        scope,
        require_auth_time,
        jwks,
        default_max_age,
        userinfo_signed_response_alg,
        jwks_uri,
        logout: logout_members(obj, &crate::model::ClientLogout::default())?,
    })
}

impl Metadata {
    /// The client to create or replace: the metadata mapped onto the model.
    /// Registered clients always ask for consent unless a policy says
    /// otherwise; a `scope` narrows the scopes they may request to known ones
    /// (`openid` always stays).
    pub fn to_spec(&self, registry: &ScopeRegistry) -> ClientSpec {
        let client_type = match self.token_endpoint_auth_method {
            AuthMethod::None => ClientType::Public,
            _ => ClientType::Confidential,
        };
        let mut spec = ClientSpec::new(
            self.client_name.clone().unwrap_or_else(|| "Registered client".into()),
            client_type,
            self.redirect_uris.clone(),
        );
        spec.response_types = self.response_types.clone();
        spec.grant_types = self.grant_types.iter().filter_map(|g| g.parse::<GrantType>().ok()).collect();
        spec.jwt_alg = self.id_token_signed_response_alg;
        spec.post_logout_redirect_uris = self.post_logout_redirect_uris.clone();
        spec.website_url = self.client_uri.clone();
        spec.terms_url = self.tos_uri.clone();
        spec.policy_url = self.policy_uri.clone();
        spec.logo = self.logo_uri.clone();
        spec.contact_email = self.contacts.first().cloned();
        spec.subject_type = self.subject_type;
        spec.sector_identifier_uri = self.sector_identifier_uri.clone();
        spec.require_consent = true;
        spec.reuse_consent = true;
        spec.jwks = self.jwks.clone();
        spec.token_endpoint_auth_method = Some(self.token_endpoint_auth_method);
        spec.default_max_age = self.default_max_age;
        spec.userinfo_signed_response_alg = self.userinfo_signed_response_alg;
        spec.jwks_uri = self.jwks_uri.clone();
        spec.logout = self.logout.clone();
        if let Some(scope) = &self.scope {
            let mut allowed: Vec<String> = scope.iter().filter(|s| registry.is_known(s)).map(str::to_owned).collect();
            if !allowed.iter().any(|s| s == "openid") {
                allowed.insert(0, "openid".into());
            }
            spec.allowed_scopes = allowed;
        }
        spec
    }

    /// The metadata as it is echoed back and stored (recognized members only).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("redirect_uris".into(), json!(self.redirect_uris));
        m.insert("response_types".into(), json!(self.response_types.iter().map(|r| r.as_str()).collect::<Vec<_>>()));
        m.insert("grant_types".into(), json!(self.grant_types));
        m.insert("application_type".into(), json!(self.application_type));
        m.insert("token_endpoint_auth_method".into(), json!(self.token_endpoint_auth_method.as_str()));
        m.insert("id_token_signed_response_alg".into(), json!(self.id_token_signed_response_alg.as_str()));
        m.insert("subject_type".into(), json!(self.subject_type.as_str()));
        m.insert("require_auth_time".into(), json!(self.require_auth_time));
        for (k, v) in [
            ("client_name", &self.client_name),
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
            ("sector_identifier_uri", &self.sector_identifier_uri),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if !self.contacts.is_empty() {
            m.insert("contacts".into(), json!(self.contacts));
        }
        if !self.post_logout_redirect_uris.is_empty() {
            m.insert("post_logout_redirect_uris".into(), json!(self.post_logout_redirect_uris));
        }
        if let Some(s) = &self.scope {
            m.insert("scope".into(), json!(s.to_string()));
        }
        if let Some(j) = self.jwks.as_deref().and_then(|j| serde_json::from_str::<Value>(j).ok()) {
            m.insert("jwks".into(), j);
        }
        if let Some(a) = self.default_max_age {
            m.insert("default_max_age".into(), json!(a));
        }
        if let Some(a) = self.userinfo_signed_response_alg {
            m.insert("userinfo_signed_response_alg".into(), json!(a.as_str()));
        }
        if let Some(u) = &self.jwks_uri {
            m.insert("jwks_uri".into(), json!(u));
        }
        insert_logout(&mut m, &self.logout);
        m
    }

    /// The metadata that describes `client` (for clients created by an
    /// operator or through the other representation, read as RFC 7591 metadata).
    pub fn of_client(client: &Client) -> Metadata {
        let mut grant_types: Vec<String> = client.grant_types.iter().map(|g| g.as_str().to_owned()).collect();
        if client.response_types.iter().any(|r| r.has_id_token() || r.has_token()) {
            grant_types.push("implicit".into());
        }
        let default_method = match client.client_type {
            ClientType::Public => AuthMethod::None,
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
        };
        Metadata {
            redirect_uris: client.redirect_uris.clone(),
            response_types: client.response_types.clone(),
            grant_types,
            application_type: "web".into(),
            client_name: Some(client.name.clone()),
            client_uri: client.website_url.clone(),
            logo_uri: client.logo.clone(),
            tos_uri: client.terms_url.clone(),
            policy_uri: client.policy_url.clone(),
            contacts: client.contact_email.iter().cloned().collect(),
            token_endpoint_auth_method: client.token_endpoint_auth_method.unwrap_or(default_method),
            id_token_signed_response_alg: client.jwt_alg,
            subject_type: client.subject_type,
            sector_identifier_uri: client.sector_identifier_uri.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            scope: (!client.allowed_scopes.is_empty()).then(|| Scope::from_tokens(client.allowed_scopes.clone())),
            require_auth_time: false,
            jwks: client.jwks.clone(),
            default_max_age: client.default_max_age,
            userinfo_signed_response_alg: client.userinfo_signed_response_alg,
            jwks_uri: client.jwks_uri.clone(),
            logout: client.logout.clone(),
        }
    }

    /// Every URI of the metadata, for the trusted-hosts policy.
    pub fn uris(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.redirect_uris.iter().map(String::as_str).collect();
        out.extend(self.post_logout_redirect_uris.iter().map(String::as_str));
        for u in [
            &self.client_uri,
            &self.logo_uri,
            &self.tos_uri,
            &self.policy_uri,
            &self.sector_identifier_uri,
            &self.jwks_uri,
            &self.logout.frontchannel_uri,
            &self.logout.backchannel_uri,
        ]
        .into_iter()
        .flatten()
        {
            out.push(u);
        }
        out
    }
}

/// Adds the logout members that are set (a URI with its flag).
fn insert_logout(m: &mut Map<String, Value>, l: &crate::model::ClientLogout) {
    if let Some(u) = &l.frontchannel_uri {
        m.insert("frontchannel_logout_uri".into(), json!(u));
        m.insert("frontchannel_logout_session_required".into(), json!(l.frontchannel_session_required));
    }
    if let Some(u) = &l.backchannel_uri {
        m.insert("backchannel_logout_uri".into(), json!(u));
        m.insert("backchannel_logout_session_required".into(), json!(l.backchannel_session_required));
    }
}

/// The registration response (RFC 7591 §3.2.1, RFC 7592 §3): the client's
/// identifiers, the stored metadata, and the registration access token.
pub fn response(
    client: &Client,
    metadata: &Map<String, Value>,
    secret: Option<&str>,
    registration_access_token: &str,
    registration_client_uri: &str,
) -> Map<String, Value> {
    let mut m = metadata.clone();
    m.insert("client_id".into(), json!(client.client_id));
    m.insert("client_id_issued_at".into(), json!(client.date_created.secs()));
    if let Some(s) = secret {
        m.insert("client_secret".into(), json!(s));
        // RFC 7591 §3.2.1: 0 means the secret does not expire.
        m.insert("client_secret_expires_at".into(), json!(0));
    }
    m.insert("registration_access_token".into(), json!(registration_access_token));
    m.insert("registration_client_uri".into(), json!(registration_client_uri));
    m
}

/// A set of registration policies (Keycloak's client registration policies),
/// one for anonymous requests and one for authenticated ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// Hosts (or `*.domain` suffixes) trusted to register and to appear in
    /// the client's URIs; `None` turns the policy off. Empty trusts nobody.
    pub trusted_hosts: Option<Vec<String>>,
    /// Refuse when the realm already has this many clients.
    pub max_clients: Option<u64>,
    /// Registered clients always ask for consent, and updates cannot turn it off.
    pub consent_required: bool,
    /// New clients are created disabled until an operator enables them.
    pub client_disabled: bool,
    /// The scopes registered clients may request; `None` is full scope.
    pub allowed_scopes: Option<Vec<String>>,
    /// Whether registration access tokens rotate on every use.
    pub rotate_registration_token: bool,
    /// Trusted Hosts: the requester's address must be a trusted host
    /// (Keycloak's "Host Sending Client Registration Request Must Match").
    pub trusted_hosts_check_requester: bool,
    /// Trusted Hosts: the client's URIs must be on trusted hosts
    /// (Keycloak's "Client URIs Must Match").
    pub trusted_hosts_check_uris: bool,
    /// Full Scope policy: new clients get `full_scope_allowed = false`, and
    /// an update may not turn it on.
    pub full_scope_disabled: bool,
}

impl Policies {
    /// Keycloak's defaults for anonymous registration: no trusted host (so
    /// anonymous registration is in effect off), at most 200 clients, consent
    /// required, only the standard scopes. Keycloak's Allowed Client Scopes
    /// policy allows the realm's default and optional client scopes
    /// (`allow-default-scopes`), and `roles` is one of its realm default
    /// client scopes, so it is allowed here too.
    pub fn anonymous_default() -> Policies {
        Policies {
            trusted_hosts: Some(Vec::new()),
            max_clients: Some(200),
            consent_required: true,
            client_disabled: false,
            allowed_scopes: Some(
                ["openid", "profile", "email", "phone", "address", "offline_access", crate::roles::ROLES_SCOPE]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            rotate_registration_token: true,
            trusted_hosts_check_requester: true,
            trusted_hosts_check_uris: true,
            full_scope_disabled: true,
        }
    }

    /// The defaults for authenticated registration: no host or count limit.
    pub fn authenticated_default() -> Policies {
        Policies {
            trusted_hosts: None,
            max_clients: None,
            consent_required: false,
            client_disabled: false,
            allowed_scopes: None,
            rotate_registration_token: true,
            trusted_hosts_check_requester: true,
            trusted_hosts_check_uris: true,
            full_scope_disabled: false,
        }
    }

    fn trusted(&self, host: &str) -> bool {
        self.trusted_hosts.as_ref().is_none_or(|list| list.iter().any(|t| crate::uri::host_matches(host, t)))
    }

    /// Checks a registration against the policies. `requester` is the host or
    /// address the request came from; for an update (authorized by its
    /// registration access token) it is `None` and only the metadata is checked.
    /// `existing_clients` is the realm's client count (`None` for an update).
    pub fn check(
        &self,
        md: &Metadata,
        requester: Option<&str>,
        existing_clients: Option<u64>,
    ) -> Result<(), RegistrationError> {
        self.check_parts(&md.uris(), md.scope.as_ref(), requester, existing_clients)
    }

    /// [`Policies::check`] on the parts it looks at: every URI of the client
    /// and the scope it asks for.
    pub fn check_parts(
        &self,
        uris: &[&str],
        scope: Option<&Scope>,
        requester: Option<&str>,
        existing_clients: Option<u64>,
    ) -> Result<(), RegistrationError> {
        let refuse = |rule, reason: String| Err(RegistrationError::Policy { rule, reason });
        if let Some(r) = requester {
            self.check_requester(r)?;
        }
        if self.trusted_hosts.is_some() && self.trusted_hosts_check_uris {
            for &u in uris {
                // The host as browsers parse it (a URI that reads differently has none).
                let host = crate::uri::parse(u).ok().and_then(|p| p.host());
                let host = host.as_deref();
                match host {
                    Some(h) if self.trusted(h) => {}
                    _ => return refuse("trusted-hosts", format!("URI '{u}' is not on a trusted host")),
                }
            }
        }
        if let (Some(max), Some(count)) = (self.max_clients, existing_clients)
            && count >= max
        {
            return refuse("max-clients", format!("the realm already has {count} clients (at most {max})"));
        }
        if let (Some(allowed), Some(scope)) = (&self.allowed_scopes, scope)
            && let Some(s) = scope.iter().find(|s| !allowed.iter().any(|a| a == s))
        {
            return refuse("allowed-client-scopes", format!("scope '{s}' is not allowed for registered clients"));
        }
        Ok(())
    }

    /// Trusted Hosts on the requester alone: checked on every call these
    /// policies govern, reads and deletions included (Keycloak's
    /// `beforeView` and `beforeDelete`).
    pub fn check_requester(&self, requester: &str) -> Result<(), RegistrationError> {
        let Some(list) = &self.trusted_hosts else { return Ok(()) };
        if !self.trusted_hosts_check_requester {
            return Ok(());
        }
        let refuse = |reason: String| Err(RegistrationError::Policy { rule: "trusted-hosts", reason });
        if list.is_empty() {
            return refuse("no host is trusted to register clients".into());
        }
        if !self.trusted(requester) {
            return refuse(format!("host '{requester}' is not trusted"));
        }
        Ok(())
    }

    /// An update under these policies (Keycloak's `beforeUpdate`): the URIs
    /// and scopes are checked as on registration, and an update may not turn
    /// off consent where Consent Required holds, enable a client that Client
    /// Disabled created disabled, or turn on full scope where Full Scope
    /// Disabled holds.
    pub fn check_update(
        &self,
        current: &Client,
        new: &ClientSpec,
        requester: Option<&str>,
    ) -> Result<(), RegistrationError> {
        let refuse = |rule, reason: &str| Err(RegistrationError::Policy { rule, reason: reason.to_owned() });
        let scope = (!new.allowed_scopes.is_empty()).then(|| Scope::from_tokens(new.allowed_scopes.clone()));
        self.check_parts(&spec_uris(new), scope.as_ref(), requester, None)?;
        if self.allowed_scopes.is_some() && new.allowed_scopes.is_empty() {
            return refuse("allowed-client-scopes", "the client may not widen its scopes to every scope");
        }
        if self.consent_required && current.require_consent && !new.require_consent {
            return refuse("consent-required", "not permitted to turn off consent required");
        }
        if self.client_disabled && !current.enabled && new.enabled {
            return refuse("client-disabled", "not permitted to enable the client");
        }
        if self.full_scope_disabled && !current.full_scope_allowed && new.full_scope_allowed {
            return refuse("full-scope-disabled", "not permitted to enable full scope");
        }
        Ok(())
    }

    /// Applies the policies to the client about to be saved.
    pub fn apply(&self, spec: &mut ClientSpec) {
        if self.consent_required {
            spec.require_consent = true;
        }
        if self.client_disabled {
            spec.enabled = false;
        }
        if self.full_scope_disabled {
            spec.full_scope_allowed = false;
        }
        if let Some(allowed) = &self.allowed_scopes {
            if spec.allowed_scopes.is_empty() {
                spec.allowed_scopes = allowed.clone();
            } else {
                spec.allowed_scopes.retain(|s| allowed.contains(s));
            }
            spec.default_scopes.retain(|s| allowed.contains(s));
        }
    }
}

/// An initial access token (Keycloak): created by an operator, authorizes a
/// limited number of registrations until it expires. Stored by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialAccessToken {
    /// A public id, to list and delete it.
    pub id: String,
    /// The realm.
    pub realm: String,
    /// SHA-256 of the token.
    pub digest: crate::secret::Digest,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it stops working; `None`: never.
    pub expires_at: Option<UnixTime>,
    /// How many clients it may create.
    pub max_uses: i64,
    /// How many it has created.
    pub used: i64,
}

/// Rules on what a registrant (rather than an operator) may set, for the
/// Keycloak representation of the `default` provider: `base` is the client as
/// it is (`None` when registering). A registrant cannot add the password
/// grant (an operator's decision, with the realm's switch), enable or disable
/// the client, switch between public and confidential, or change the role scope.
pub fn check_registrant_change(base: Option<&Client>, spec: &ClientSpec) -> Result<(), RegistrationError> {
    let had_password = base.is_some_and(|c| c.grant_types.contains(&GrantType::Password));
    if spec.grant_types.contains(&GrantType::Password) && !had_password {
        return Err(bad(
            "the password grant (directAccessGrantsEnabled) cannot be registered; an operator must enable it",
        ));
    }
    if spec.enabled != base.is_none_or(|c| c.enabled) {
        return Err(bad("enabled is set by an operator"));
    }
    if let Some(c) = base {
        if c.client_type != spec.client_type {
            return Err(bad("a client cannot switch between public and confidential (publicClient)"));
        }
        if c.role_scope != spec.role_scope {
            return Err(bad("the role scope is set by an operator"));
        }
    }
    Ok(())
}

/// Resolves Keycloak-style redirect URIs: a URI starting with `/` is
/// relative to `root_url` (Keycloak's `rootUrl`), as Keycloak resolves it.
/// Wildcards, which Keycloak matches as patterns, are refused: RFC 9700 §2.1
/// and §4.1.3 require exact string matching of redirect URIs.
pub fn resolve_redirect_uris(root_url: Option<&str>, uris: &[String]) -> Result<Vec<String>, RegistrationError> {
    let mut out = Vec::with_capacity(uris.len());
    for u in uris {
        if u.contains('*') {
            return Err(RegistrationError::InvalidRedirectUri(format!(
                "redirect URI '{u}' has a wildcard; RFC 9700 (OAuth 2.0 Security Best Current Practice) Section 2.1 \
                 requires exact redirect URIs, so register each one"
            )));
        }
        let absolute = if u.starts_with('/') && !u.starts_with("//") {
            let root = root_url.ok_or_else(|| {
                RegistrationError::InvalidRedirectUri(format!("redirect URI '{u}' is relative and there is no rootUrl"))
            })?;
            format!("{}{u}", root.trim_end_matches('/'))
        } else {
            u.clone()
        };
        check_redirect_uri(&absolute).map_err(RegistrationError::InvalidRedirectUri)?;
        out.push(absolute);
    }
    Ok(out)
}

/// Checks a URL of a client's web pages (`rootUrl`, `baseUrl`, logo, policy, terms).
pub fn check_client_url(name: &str, uri: &str) -> Result<(), RegistrationError> {
    check_web_uri(name, uri)
}

/// Every URI of a client spec, for the trusted-hosts policy.
pub fn spec_uris(spec: &ClientSpec) -> Vec<&str> {
    let mut out: Vec<&str> = spec.redirect_uris.iter().map(String::as_str).collect();
    out.extend(spec.post_logout_redirect_uris.iter().map(String::as_str));
    for u in [
        &spec.website_url,
        &spec.terms_url,
        &spec.policy_url,
        &spec.logo,
        &spec.sector_identifier_uri,
        &spec.jwks_uri,
        &spec.root_url,
        &spec.logout.frontchannel_uri,
        &spec.logout.backchannel_uri,
    ]
    .into_iter()
    .flatten()
    {
        out.push(u);
    }
    out
}

/// How a client was registered over HTTP, and the digest of its current
/// registration access token (RFC 7592 §3), which rotates on every use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRegistration {
    /// The realm.
    pub realm: String,
    /// The client.
    pub client_id: String,
    /// SHA-256 of the current registration access token.
    pub token_digest: crate::secret::Digest,
    /// The registered metadata as JSON (recognized members only).
    pub metadata: String,
    /// Whether it was registered without a token (anonymous policies apply to its updates).
    pub anonymous: bool,
    /// When it was registered.
    pub created_at: UnixTime,
}

/// Which policy set applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Requests without a token.
    Anonymous,
    /// Requests with an initial access token or a bearer token.
    Authenticated,
}

impl PolicyKind {
    /// `anonymous` or `authenticated`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Anonymous => "anonymous",
            PolicyKind::Authenticated => "authenticated",
        }
    }

    /// The defaults of this kind.
    pub fn defaults(self) -> Policies {
        match self {
            PolicyKind::Anonymous => Policies::anonymous_default(),
            PolicyKind::Authenticated => Policies::authenticated_default(),
        }
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "anonymous" => Ok(PolicyKind::Anonymous),
            "authenticated" => Ok(PolicyKind::Authenticated),
            _ => Err(format!("unknown policy set '{s}' (expected anonymous or authenticated)")),
        }
    }
}

impl Policies {
    /// The policies as JSON, for storage and display.
    pub fn to_json(&self) -> Value {
        json!({
            "trusted_hosts": self.trusted_hosts,
            "max_clients": self.max_clients,
            "consent_required": self.consent_required,
            "client_disabled": self.client_disabled,
            "allowed_scopes": self.allowed_scopes,
            "rotate_registration_token": self.rotate_registration_token,
            "trusted_hosts_check_requester": self.trusted_hosts_check_requester,
            "trusted_hosts_check_uris": self.trusted_hosts_check_uris,
            "full_scope_disabled": self.full_scope_disabled,
        })
    }

    /// Reads policies written by [`Policies::to_json`]; missing members keep
    /// the values of `defaults`.
    pub fn from_json(v: &Value, defaults: Policies) -> Result<Policies, String> {
        let o = v.as_object().ok_or("policies must be a JSON object")?;
        let list = |name: &str, d: Option<Vec<String>>| -> Result<Option<Vec<String>>, String> {
            match o.get(name) {
                None => Ok(d),
                Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| format!("{name} must list strings")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(format!("{name} must be a list or null")),
            }
        };
        let flag = |name: &str, d: bool| -> Result<bool, String> {
            match o.get(name) {
                None => Ok(d),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(format!("{name} must be true or false")),
            }
        };
        let max_clients = match o.get("max_clients") {
            None => defaults.max_clients,
            Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or("max_clients must be a non-negative integer or null")?),
        };
        Ok(Policies {
            trusted_hosts: list("trusted_hosts", defaults.trusted_hosts.clone())?,
            max_clients,
            consent_required: flag("consent_required", defaults.consent_required)?,
            client_disabled: flag("client_disabled", defaults.client_disabled)?,
            allowed_scopes: list("allowed_scopes", defaults.allowed_scopes.clone())?,
            rotate_registration_token: flag("rotate_registration_token", defaults.rotate_registration_token)?,
            trusted_hosts_check_requester: flag(
                "trusted_hosts_check_requester",
                defaults.trusted_hosts_check_requester,
            )?,
            trusted_hosts_check_uris: flag("trusted_hosts_check_uris", defaults.trusted_hosts_check_uris)?,
            full_scope_disabled: flag("full_scope_disabled", defaults.full_scope_disabled)?,
        })
    }
}

#[cfg(test)]
mod tests;

impl InitialAccessToken {
    /// `realm` as a typed id ([`crate::ids::RealmName`]).
    #[must_use]
    pub fn realm(&self) -> crate::ids::RealmName<'_> {
        crate::ids::RealmName::new(&self.realm)
    }
}

impl ClientRegistration {
    /// `realm` as a typed id ([`crate::ids::RealmName`]).
    #[must_use]
    pub fn realm(&self) -> crate::ids::RealmName<'_> {
        crate::ids::RealmName::new(&self.realm)
    }

    /// `client_id` as a typed id ([`crate::ids::ClientId`]).
    #[must_use]
    pub fn client_id(&self) -> crate::ids::ClientId<'_> {
        crate::ids::ClientId::new(&self.client_id)
    }
}
