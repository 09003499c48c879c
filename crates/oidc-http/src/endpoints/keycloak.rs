//! Keycloak's client representation (`org.keycloak.representations.idm.ClientRepresentation`),
//! the body of the `default` provider of the client registration service:
//! a serde DTO, converted by hand to and from the core's client settings.
//!
//! The rules (what a registrant may set, redirect URI resolution, policies)
//! live in `oidc_core::registration`; this module knows only the wire format.
//! `docs/KEYCLOAK.md` maps every member and attribute to the provider's property.

use std::collections::BTreeMap;

use oidc_core::manage::ClientSpec;
use oidc_core::model::{Client, ClientType, GrantType, JwtAlg, ResponseType, TokenAuthMethod};
use oidc_core::pkce::PkceMethod;
use oidc_core::registration::{RegistrationError, check_client_url, resolve_redirect_uris};
use oidc_core::scope::ScopeRegistry;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Keycloak's `ClientRepresentation`: every member optional, camelCase.
/// Members Keycloak has and this provider does not honour are read (so
/// their type is checked) and either accepted without effect or refused.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientRepresentation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) root_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) admin_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) surrogate_auth_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) always_display_in_console: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_authenticator_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) registration_access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) web_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) not_before: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bearer_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) consent_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) standard_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) implicit_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) direct_access_grants_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service_accounts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) authorization_services_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) public_client: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) frontchannel_logout: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attributes: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) full_scope_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_re_registration_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) default_client_scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) optional_client_scopes: Option<Vec<String>>,
}

fn bad(msg: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(msg.into())
}

/// Reads a body: a JSON object whose members have Keycloak's types. A member
/// of the wrong type is refused naming it; unknown members are ignored.
pub(crate) fn parse(body: &Value) -> Result<ClientRepresentation, RegistrationError> {
    let obj = body.as_object().ok_or_else(|| bad("the request body must be a JSON object"))?;
    match serde_json::from_value::<ClientRepresentation>(body.clone()) {
        Ok(rep) => Ok(rep),
        Err(whole) => {
            // Find the member at fault by reading each one alone.
            for (name, value) in obj {
                let one = Value::Object([(name.clone(), value.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<ClientRepresentation>(one) {
                    return Err(bad(format!("member '{name}': {e}")));
                }
            }
            Err(bad(format!("the body is not a client representation: {whole}")))
        }
    }
}

/// Keycloak's attribute keys with a property here.
mod attr {
    pub(super) const PKCE: &str = "pkce.code.challenge.method";
    pub(super) const POST_LOGOUT: &str = "post.logout.redirect.uris";
    pub(super) const ID_TOKEN_ALG: &str = "id.token.signed.response.alg";
    pub(super) const USERINFO_ALG: &str = "user.info.response.signature.alg";
    pub(super) const ACCESS_TOKEN_ALG: &str = "access.token.signed.response.alg";
    pub(super) const USE_REFRESH: &str = "use.refresh.tokens";
    pub(super) const CC_REFRESH: &str = "client_credentials.use_refresh_token";
    pub(super) const LOGO: &str = "logoUri";
    pub(super) const POLICY: &str = "policyUri";
    pub(super) const TOS: &str = "tosUri";
    pub(super) const JWKS_URL: &str = "jwks.url";
    pub(super) const USE_JWKS_URL: &str = "use.jwks.url";
    pub(super) const FC_URL: &str = "frontchannel.logout.url";
    pub(super) const FC_SESSION: &str = "frontchannel.logout.session.required";
    pub(super) const BC_URL: &str = "backchannel.logout.url";
    pub(super) const BC_SESSION: &str = "backchannel.logout.session.required";
    /// The provider's own properties, which Keycloak has no attribute for:
    /// named as in OpenID Connect Dynamic Client Registration 1.0 §2.
    pub(super) const SUBJECT_TYPE: &str = "subject_type";
    pub(super) const SECTOR: &str = "sector_identifier_uri";
    pub(super) const MAX_AGE: &str = "default_max_age";
    pub(super) const JWKS: &str = "jwks";
    pub(super) const CONTACT: &str = "contacts";
    pub(super) const AUTH_METHOD: &str = "token_endpoint_auth_method";
    pub(super) const REUSE_CONSENT: &str = "reuse_consent";
    /// `opaque` or `jwt` (RFC 9068); Keycloak's access tokens are always JWTs.
    pub(super) const ACCESS_TOKEN_FORMAT: &str = "access_token_format";
}

/// Attributes that ask for behaviour this provider does not have: refused
/// unless empty or `false`, so a client never believes it got it.
const REFUSED_ATTRIBUTES: &[(&str, &str)] = &[
    ("id.token.encrypted.response.alg", "encrypted id_tokens (JWE) are not supported"),
    ("user.info.encrypted.response.alg", "encrypted UserInfo responses (JWE) are not supported"),
    ("authorization.signed.response.alg", "JWT-secured authorization responses (JARM) are not supported"),
    ("tls.client.certificate.bound.access.tokens", "certificate-bound access tokens (RFC 8705) are not supported"),
    ("require.pushed.authorization.requests", "pushed authorization requests (RFC 9126) are not supported"),
    ("oauth2.device.authorization.grant.enabled", "the device authorization grant (RFC 8628) is not supported"),
    ("oidc.ciba.grant.enabled", "CIBA is not supported"),
];

fn is_off(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("false")
}

/// An attribute's value as text: Keycloak's attributes are strings; JSON
/// booleans and numbers are read as their text (as Keycloak's JSON reader does).
fn attribute_text(name: &str, v: &Value) -> Result<Option<String>, RegistrationError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(bad(format!("attribute '{name}' must be a string"))),
    }
}

fn flag_attribute(name: &str, v: &str) -> Result<bool, RegistrationError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!("attribute '{name}' must be \"true\" or \"false\""))),
    }
}

/// The optional client scopes as Keycloak lists them: the scopes the client
/// may request besides its defaults (`openid` is not a client scope).
fn optional_scopes(settings: &oidc_core::model::ClientSettings, registry: &ScopeRegistry) -> Vec<String> {
    let listed: Vec<String> =
        if settings.allowed_scopes.is_empty() { registry.scopes_supported() } else { settings.allowed_scopes.clone() };
    listed.into_iter().filter(|s| s != "openid" && !settings.default_scopes.contains(s)).collect()
}

fn authenticator_type(c: &Client) -> &'static str {
    match c.token_endpoint_auth_method {
        Some(TokenAuthMethod::PrivateKeyJwt) => "client-jwt",
        Some(TokenAuthMethod::ClientSecretJwt) => "client-secret-jwt",
        _ => "client-secret",
    }
}

/// The representation of `client`, with its registration access token when
/// the caller gets one.
pub(crate) fn to_representation(
    client: &Client,
    registry: &ScopeRegistry,
    registration_access_token: Option<&str>,
) -> ClientRepresentation {
    let mut attributes: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        attributes.insert(k.to_owned(), Value::String(v));
    };
    put(attr::PKCE, client.pkce_method.map_or("", PkceMethod::as_str).to_owned());
    put(attr::POST_LOGOUT, client.post_logout_redirect_uris.join("##"));
    put(attr::ID_TOKEN_ALG, client.jwt_alg.as_str().to_owned());
    if let Some(a) = client.userinfo_signed_response_alg {
        put(attr::USERINFO_ALG, a.as_str().to_owned());
    }
    if let Some(f) = client.access_token_format {
        put(attr::ACCESS_TOKEN_FORMAT, f.as_str().to_owned());
    }
    if let Some(a) = client.access_token_signed_response_alg {
        put(attr::ACCESS_TOKEN_ALG, a.as_str().to_owned());
    }
    put(attr::USE_REFRESH, client.allows_grant(GrantType::RefreshToken).to_string());
    put(attr::CC_REFRESH, "false".into());
    for (k, v) in [(attr::LOGO, &client.logo), (attr::POLICY, &client.policy_url), (attr::TOS, &client.terms_url)] {
        if let Some(v) = v {
            put(k, v.clone());
        }
    }
    put(attr::USE_JWKS_URL, client.jwks_uri.is_some().to_string());
    if let Some(u) = &client.jwks_uri {
        put(attr::JWKS_URL, u.clone());
    }
    put(attr::SUBJECT_TYPE, client.subject_type.as_str().to_owned());
    if let Some(u) = &client.sector_identifier_uri {
        put(attr::SECTOR, u.clone());
    }
    if let Some(m) = client.default_max_age {
        put(attr::MAX_AGE, m.to_string());
    }
    if let Some(j) = &client.jwks {
        put(attr::JWKS, j.clone());
    }
    if let Some(e) = &client.contact_email {
        put(attr::CONTACT, e.clone());
    }
    if let Some(m) = client.token_endpoint_auth_method {
        put(attr::AUTH_METHOD, m.as_str().to_owned());
    }
    put(attr::REUSE_CONSENT, client.reuse_consent.to_string());
    // Front-Channel Logout 1.0 §2 and Back-Channel Logout 1.0 §2.2, under Keycloak's keys.
    put(attr::FC_URL, client.logout.frontchannel_uri.clone().unwrap_or_default());
    put(attr::FC_SESSION, client.logout.frontchannel_session_required.to_string());
    put(attr::BC_URL, client.logout.backchannel_uri.clone().unwrap_or_default());
    put(attr::BC_SESSION, client.logout.backchannel_session_required.to_string());
    ClientRepresentation {
        id: Some(client.client_id.clone()),
        client_id: Some(client.client_id.clone()),
        name: Some(client.name.clone()),
        description: client.description.clone(),
        root_url: client.root_url.clone(),
        admin_url: None,
        base_url: client.website_url.clone(),
        surrogate_auth_required: Some(false),
        enabled: Some(client.enabled),
        always_display_in_console: Some(false),
        client_authenticator_type: Some(authenticator_type(client).to_owned()),
        secret: client.client_secret.as_ref().map(|s| s.secret().to_owned()),
        registration_access_token: registration_access_token.map(str::to_owned),
        redirect_uris: Some(client.redirect_uris.clone()),
        web_origins: Some(client.web_origins.clone()),
        not_before: Some(0),
        bearer_only: Some(false),
        consent_required: Some(client.require_consent),
        standard_flow_enabled: Some(client.response_types.iter().any(|r| r.has_code())),
        implicit_flow_enabled: Some(client.response_types.iter().any(|r| r.has_id_token() || r.has_token())),
        direct_access_grants_enabled: Some(client.allows_grant(GrantType::Password)),
        service_accounts_enabled: Some(client.allows_grant(GrantType::ClientCredentials)),
        authorization_services_enabled: None,
        public_client: Some(client.client_type == ClientType::Public),
        frontchannel_logout: Some(client.logout.frontchannel_uri.is_some()),
        protocol: Some("openid-connect".into()),
        attributes: Some(attributes),
        full_scope_allowed: Some(client.full_scope_allowed),
        node_re_registration_timeout: None,
        default_client_scopes: Some(client.default_scopes.clone()),
        optional_client_scopes: Some(optional_scopes(client, registry)),
    }
}

/// The defaults of a client registered through Keycloak's representation:
/// Keycloak's (standard flow with refresh tokens, no consent, full scope)
/// with the realm's default client scopes that exist here.
fn new_spec(rep: &ClientRepresentation, registry: &ScopeRegistry) -> ClientSpec {
    let name = rep.name.clone().or_else(|| rep.client_id.clone()).unwrap_or_else(|| "Registered client".into());
    let mut spec = ClientSpec::new(name, ClientType::Confidential, Vec::new());
    spec.client_id = rep.client_id.clone();
    spec.require_consent = false;
    spec.default_scopes = ["profile", "email", oidc_core::roles::ROLES_SCOPE]
        .into_iter()
        .filter(|s| registry.is_known(s))
        .map(str::to_owned)
        .collect();
    // Keycloak's access tokens are JWTs that its adapters read and verify
    // locally (keycloak-js parses them; server adapters check them against the
    // realm keys), so a client registered in Keycloak's form gets RFC 9068 JWT
    // access tokens unless its attributes ask otherwise.
    spec.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
    spec
}

/// Applies a representation: onto the client's current settings (`base`,
/// an update: members not given keep their values, as Keycloak's update
/// does), or onto the defaults of a new registration.
pub(crate) fn to_spec(
    rep: &ClientRepresentation,
    base: Option<&Client>,
    registry: &ScopeRegistry,
) -> Result<ClientSpec, RegistrationError> {
    let mut spec = match base {
        Some(c) => ClientSpec::of(c),
        None => new_spec(rep, registry),
    };
    // Identity and provider-issued values: accepted when unchanged.
    if let Some(c) = base {
        for (member, value) in [("clientId", &rep.client_id), ("id", &rep.id)] {
            if value.as_ref().is_some_and(|v| *v != c.client_id) {
                return Err(bad(format!("{member} cannot change")));
            }
        }
        if let Some(s) = &rep.secret
            && !c.client_secret.as_ref().is_some_and(|cs| cs.ct_eq(s))
        {
            return Err(bad("secret is issued by the provider and cannot be set"));
        }
    } else if rep.secret.is_some() {
        return Err(bad("secret is issued by the provider and cannot be set"));
    }
    if rep.protocol.as_deref().is_some_and(|p| p != "openid-connect") {
        return Err(bad("protocol must be openid-connect (SAML clients are not supported)"));
    }
    if rep.bearer_only == Some(true) {
        return Err(bad(
            "bearer-only clients are not supported: register a client with serviceAccountsEnabled instead",
        ));
    }
    if rep.authorization_services_enabled == Some(true) {
        return Err(bad("authorization services (UMA) are not supported"));
    }
    let set = &mut spec.settings;
    if let Some(v) = &rep.name {
        set.name.clone_from(v);
    }
    if let Some(v) = &rep.description {
        set.description = (!v.is_empty()).then(|| v.clone());
    }
    for (member, value, field) in
        [("rootUrl", &rep.root_url, &mut set.root_url), ("baseUrl", &rep.base_url, &mut set.website_url)]
    {
        if let Some(v) = value {
            if !v.is_empty() {
                check_client_url(member, v)?;
            }
            *field = (!v.is_empty()).then(|| v.clone());
        }
    }
    if let Some(v) = rep.public_client {
        set.client_type = if v { ClientType::Public } else { ClientType::Confidential };
    }
    if let Some(v) = rep.enabled {
        set.enabled = v;
    }
    if let Some(v) = rep.consent_required {
        set.require_consent = v;
    }
    if let Some(v) = rep.full_scope_allowed {
        set.full_scope_allowed = v;
    }
    if let Some(v) = &rep.web_origins {
        set.web_origins.clone_from(v);
    }
    if let Some(v) = &rep.redirect_uris {
        set.redirect_uris = resolve_redirect_uris(set.root_url.as_deref(), v)?;
    }
    apply_flows(rep, set)?;
    apply_scopes(rep, set, base.is_none(), registry)?;
    if let Some(t) = &rep.client_authenticator_type {
        set.token_endpoint_auth_method = match t.as_str() {
            "client-secret" => set
                .token_endpoint_auth_method
                .filter(|m| matches!(m, TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost)),
            "client-secret-jwt" => Some(TokenAuthMethod::ClientSecretJwt),
            "client-jwt" => Some(TokenAuthMethod::PrivateKeyJwt),
            other => return Err(bad(format!("clientAuthenticatorType '{other}' is not supported"))),
        };
    }
    // A public client authenticates with no secret whatever the authenticator type says.
    if set.client_type == ClientType::Public && set.token_endpoint_auth_method != Some(TokenAuthMethod::None) {
        set.token_endpoint_auth_method = None;
    }
    if let Some(attrs) = &rep.attributes {
        apply_attributes(attrs, set)?;
    }
    // Keycloak's switch: front-channel logout off means no front-channel URI.
    if rep.frontchannel_logout == Some(false) {
        set.logout.frontchannel_uri = None;
    }
    Ok(spec)
}

/// `standardFlowEnabled`, `implicitFlowEnabled`, `directAccessGrantsEnabled`,
/// `serviceAccountsEnabled` and the `use.refresh.tokens` attribute switch
/// the response and grant types on and off as Keycloak derives them
/// (its `DescriptionConverter`); what a member does not change stays exact.
fn apply_flows(
    rep: &ClientRepresentation,
    set: &mut oidc_core::model::ClientSettings,
) -> Result<(), RegistrationError> {
    let had_standard = set.response_types.iter().any(|r| r.has_code());
    let had_implicit = set.response_types.iter().any(|r| r.has_id_token() || r.has_token());
    let standard = rep.standard_flow_enabled.unwrap_or(had_standard);
    let implicit = rep.implicit_flow_enabled.unwrap_or(had_implicit);
    if (standard, implicit) != (had_standard, had_implicit) {
        let keep = |r: &ResponseType| (standard || !r.has_code()) && (implicit || !(r.has_id_token() || r.has_token()));
        set.response_types.retain(keep);
        let mut add = Vec::new();
        if standard && !had_standard {
            add.push(ResponseType::Code);
        }
        if implicit && !had_implicit {
            add.extend([ResponseType::IdToken, ResponseType::IdTokenToken]);
        }
        if standard && implicit {
            add.extend([ResponseType::CodeIdToken, ResponseType::CodeToken, ResponseType::CodeIdTokenToken]);
        }
        for r in add {
            if keep(&r) && !set.response_types.contains(&r) {
                set.response_types.push(r);
            }
        }
    }
    let toggle = |grants: &mut Vec<GrantType>, g: GrantType, on: Option<bool>| match on {
        Some(true) if !grants.contains(&g) => grants.push(g),
        Some(false) => grants.retain(|x| *x != g),
        _ => {}
    };
    toggle(&mut set.grant_types, GrantType::AuthorizationCode, Some(standard));
    toggle(&mut set.grant_types, GrantType::Password, rep.direct_access_grants_enabled);
    toggle(&mut set.grant_types, GrantType::ClientCredentials, rep.service_accounts_enabled);
    let use_refresh = match rep.attributes.as_ref().and_then(|a| a.get(attr::USE_REFRESH)) {
        Some(v) => attribute_text(attr::USE_REFRESH, v)?.map(|t| flag_attribute(attr::USE_REFRESH, &t)).transpose()?,
        None => None,
    };
    toggle(&mut set.grant_types, GrantType::RefreshToken, use_refresh);
    Ok(())
}

/// `defaultClientScopes` and `optionalClientScopes`: the client may request
/// `openid`, its defaults and its optional scopes.
fn apply_scopes(
    rep: &ClientRepresentation,
    set: &mut oidc_core::model::ClientSettings,
    new: bool,
    registry: &ScopeRegistry,
) -> Result<(), RegistrationError> {
    for list in [&rep.default_client_scopes, &rep.optional_client_scopes].into_iter().flatten() {
        if let Some(s) = list.iter().find(|s| !registry.is_known(s) || *s == "openid") {
            return Err(bad(format!("client scope '{s}' does not exist in this realm")));
        }
    }
    let optional_now = optional_scopes(set, registry);
    let every_scope = set.allowed_scopes.is_empty();
    if let Some(d) = &rep.default_client_scopes {
        set.default_scopes.clone_from(d);
    }
    let optional = match &rep.optional_client_scopes {
        // Unchanged: the allowed scopes stay as they are (every scope stays every scope).
        Some(o) if !new && *o == optional_now => None,
        Some(o) => Some(o.clone()),
        None if every_scope => None,
        None => Some(optional_now),
    };
    if let Some(optional) = optional {
        let mut allowed = vec!["openid".to_owned()];
        for s in set.default_scopes.iter().chain(&optional) {
            if !allowed.contains(s) {
                allowed.push(s.clone());
            }
        }
        set.allowed_scopes = allowed;
    }
    Ok(())
}

fn apply_attributes(
    attrs: &BTreeMap<String, Value>,
    set: &mut oidc_core::model::ClientSettings,
) -> Result<(), RegistrationError> {
    for (name, value) in attrs {
        let Some(v) = attribute_text(name, value)? else { continue };
        if let Some((_, why)) = REFUSED_ATTRIBUTES.iter().find(|(k, _)| k == name) {
            if is_off(&v) {
                continue;
            }
            return Err(bad(format!("attribute '{name}': {why}")));
        }
        let url = |v: &str| -> Result<Option<String>, RegistrationError> {
            if v.is_empty() {
                return Ok(None);
            }
            check_client_url(name, v)?;
            Ok(Some(v.to_owned()))
        };
        match name.as_str() {
            attr::PKCE => {
                set.pkce_method = match v.as_str() {
                    "" => None,
                    m => Some(
                        m.parse::<PkceMethod>().map_err(|e| bad(format!("attribute '{name}': {}", e.description)))?,
                    ),
                }
            }
            attr::POST_LOGOUT => {
                set.post_logout_redirect_uris = match v.as_str() {
                    "" => Vec::new(),
                    // Keycloak's "+": the same URIs as the redirect URIs.
                    "+" => set.redirect_uris.clone(),
                    list => list.split("##").map(str::to_owned).collect(),
                }
            }
            attr::ID_TOKEN_ALG => {
                set.jwt_alg = v.parse::<JwtAlg>().map_err(|e| bad(format!("attribute '{name}': {e}")))?
            }
            attr::USERINFO_ALG => {
                set.userinfo_signed_response_alg = match v.as_str() {
                    "" | "unsigned" => None,
                    a => Some(a.parse::<JwtAlg>().map_err(|e| bad(format!("attribute '{name}': {e}")))?),
                }
            }
            // Keycloak's access tokens are JWTs signed so: naming an algorithm asks for
            // JWT access tokens (RFC 9068), unless access_token_format says otherwise.
            attr::ACCESS_TOKEN_ALG => {
                set.access_token_signed_response_alg = match v.as_str() {
                    "" => None,
                    a => Some(a.parse::<JwtAlg>().map_err(|e| bad(format!("attribute '{name}': {e}")))?),
                };
                if set.access_token_signed_response_alg.is_some() && !attrs.contains_key(attr::ACCESS_TOKEN_FORMAT) {
                    set.access_token_format = Some(oidc_core::model::AccessTokenFormat::Jwt);
                }
            }
            attr::ACCESS_TOKEN_FORMAT => {
                set.access_token_format = match v.as_str() {
                    "" => None,
                    f => Some(f.parse().map_err(|e: String| bad(format!("attribute '{name}': {e}")))?),
                }
            }
            attr::CC_REFRESH if flag_attribute(name, &v)? => {
                return Err(bad(format!(
                    "attribute '{name}': client_credentials never gets a refresh token here (RFC 6749 Section 4.4.3)"
                )));
            }
            attr::LOGO => set.logo = url(&v)?,
            attr::POLICY => set.policy_url = url(&v)?,
            attr::TOS => set.terms_url = url(&v)?,
            attr::JWKS_URL => set.jwks_uri = url(&v)?,
            // use.jwks.url=false without a jwks.url in the same body: no key URL.
            attr::USE_JWKS_URL
                if !flag_attribute(name, &v)?
                    && attrs.get(attr::JWKS_URL).and_then(Value::as_str).is_none_or(str::is_empty) =>
            {
                set.jwks_uri = None;
            }
            attr::SUBJECT_TYPE => set.subject_type = v.parse().map_err(|e| bad(format!("attribute '{name}': {e}")))?,
            attr::SECTOR => set.sector_identifier_uri = url(&v)?,
            attr::MAX_AGE => {
                set.default_max_age =
                    match v.as_str() {
                        "" => None,
                        n => Some(n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                            bad(format!("attribute '{name}' must be a non-negative number of seconds"))
                        })?),
                    }
            }
            attr::JWKS => {
                set.jwks = match v.as_str() {
                    "" => None,
                    j => {
                        oidc_core::manage::check_jwks(j).map_err(|e| bad(format!("attribute '{name}': {e}")))?;
                        Some(j.to_owned())
                    }
                }
            }
            attr::CONTACT => set.contact_email = (!v.is_empty()).then_some(v),
            attr::AUTH_METHOD => {
                set.token_endpoint_auth_method =
                    Some(v.parse::<TokenAuthMethod>().map_err(|e| bad(format!("attribute '{name}': {e}")))?)
            }
            attr::REUSE_CONSENT => set.reuse_consent = flag_attribute(name, &v)?,
            attr::FC_URL | attr::BC_URL => {
                let uri = if v.is_empty() {
                    None
                } else {
                    oidc_core::manage::check_logout_uri(&v, name).map_err(bad)?;
                    Some(v.clone())
                };
                if name == attr::FC_URL {
                    set.logout.frontchannel_uri = uri;
                } else {
                    set.logout.backchannel_uri = uri;
                }
            }
            attr::FC_SESSION => set.logout.frontchannel_session_required = flag_attribute(name, &v)?,
            attr::BC_SESSION => set.logout.backchannel_session_required = flag_attribute(name, &v)?,
            // use.refresh.tokens is read with the flows; other attributes (Keycloak's display
            // and session settings, a use.jwks.url that is on, ...) are accepted without effect.
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
