//! The `claims` request parameter (OpenID Connect Core 1.0 §5.5): individual
//! claims asked for in the UserInfo response and in the id_token.

use serde_json::{Map, Value};

use crate::error::OAuthError;

/// One requested claim (§5.5.1).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestedClaim {
    /// The claim name.
    pub name: String,
    /// Whether the client says it is essential.
    pub essential: bool,
    /// A specific value asked for.
    pub value: Option<Value>,
    /// Acceptable values, in order of preference.
    pub values: Option<Vec<Value>>,
}

/// A parsed `claims` parameter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimsRequest {
    /// Claims for the UserInfo response.
    pub userinfo: Vec<RequestedClaim>,
    /// Claims for the id_token.
    pub id_token: Vec<RequestedClaim>,
}

fn members(top: &Map<String, Value>, name: &str) -> Result<Vec<RequestedClaim>, OAuthError> {
    let bad = |why: String| OAuthError::invalid_request(format!("claims parameter: {why} (OIDC Core §5.5)"));
    let Some(v) = top.get(name) else { return Ok(Vec::new()) };
    let obj = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Object(o) => o,
        _ => return Err(bad(format!("'{name}' must be an object"))),
    };
    let mut out = Vec::with_capacity(obj.len());
    for (claim, spec) in obj {
        let mut rc = RequestedClaim { name: claim.clone(), essential: false, value: None, values: None };
        match spec {
            Value::Null => {}
            Value::Object(o) => {
                // §5.5.1: essential, value and values; other members are ignored.
                match o.get("essential") {
                    None | Some(Value::Null) => {}
                    Some(Value::Bool(b)) => rc.essential = *b,
                    Some(_) => return Err(bad(format!("'essential' of '{claim}' must be a boolean"))),
                }
                rc.value = o.get("value").filter(|v| !v.is_null()).cloned();
                match o.get("values") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(a)) => rc.values = Some(a.clone()),
                    Some(_) => return Err(bad(format!("'values' of '{claim}' must be an array"))),
                }
            }
            _ => return Err(bad(format!("the request for '{claim}' must be null or an object"))),
        }
        out.push(rc);
    }
    Ok(out)
}

impl ClaimsRequest {
    /// Parses the parameter's JSON; an invalid document is `invalid_request`.
    /// Members other than `userinfo` and `id_token` are ignored (§5.5).
    pub fn parse(s: &str) -> Result<ClaimsRequest, OAuthError> {
        let v: Value = serde_json::from_str(s)
            .map_err(|e| OAuthError::invalid_request(format!("claims parameter is not valid JSON: {e}")))?;
        let Value::Object(top) = v else {
            return Err(OAuthError::invalid_request("claims parameter must be a JSON object (OIDC Core §5.5)"));
        };
        Ok(ClaimsRequest { userinfo: members(&top, "userinfo")?, id_token: members(&top, "id_token")? })
    }

    /// The claim names asked for in the UserInfo response.
    pub fn userinfo_names(&self) -> Vec<&str> {
        self.userinfo.iter().map(|c| c.name.as_str()).collect()
    }

    /// The claim names asked for in the id_token.
    pub fn id_token_names(&self) -> Vec<&str> {
        self.id_token.iter().map(|c| c.name.as_str()).collect()
    }

    /// The `acr` request for the id_token, if any (§5.5.1.1).
    pub fn acr(&self) -> Option<&RequestedClaim> {
        self.id_token.iter().find(|c| c.name == "acr")
    }

    /// Whether nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.userinfo.is_empty() && self.id_token.is_empty()
    }

    /// The request as compact JSON, to store with a code or token.
    pub fn to_json(&self) -> String {
        let part = |claims: &[RequestedClaim]| {
            let mut m = Map::new();
            for c in claims {
                let mut spec = Map::new();
                if c.essential {
                    spec.insert("essential".into(), Value::Bool(true));
                }
                if let Some(v) = &c.value {
                    spec.insert("value".into(), v.clone());
                }
                if let Some(vs) = &c.values {
                    spec.insert("values".into(), Value::Array(vs.clone()));
                }
                m.insert(c.name.clone(), if spec.is_empty() { Value::Null } else { Value::Object(spec) });
            }
            Value::Object(m)
        };
        let mut top = Map::new();
        if !self.userinfo.is_empty() {
            top.insert("userinfo".into(), part(&self.userinfo));
        }
        if !self.id_token.is_empty() {
            top.insert("id_token".into(), part(&self.id_token));
        }
        Value::Object(top).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example_oidc_core_5_5() {
        let r = ClaimsRequest::parse(
            r#"{"userinfo":{"given_name":{"essential":true},"nickname":null,"email":{"essential":true},
                "picture":null,"http://example.info/claims/groups":null},
               "id_token":{"auth_time":{"essential":true},"acr":{"values":["urn:mace:incommon:iap:silver"]}},
               "unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(r.userinfo_names().len(), 5);
        assert!(r.userinfo.iter().find(|c| c.name == "email").unwrap().essential);
        assert_eq!(r.id_token_names(), ["acr", "auth_time"]);
        assert_eq!(r.acr().unwrap().values.as_ref().unwrap()[0], "urn:mace:incommon:iap:silver");
        let again = ClaimsRequest::parse(&r.to_json()).unwrap();
        assert_eq!(again, r, "the stored form round-trips");
        assert!(ClaimsRequest::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn malformed_requests_are_invalid_request() {
        for bad in [
            "not json",
            "[]",
            r#"{"userinfo":[]}"#,
            r#"{"userinfo":{"email":true}}"#,
            r#"{"id_token":{"acr":{"essential":"yes"}}}"#,
            r#"{"id_token":{"acr":{"values":"x"}}}"#,
        ] {
            assert_eq!(ClaimsRequest::parse(bad).unwrap_err().code, crate::ErrorCode::InvalidRequest, "{bad}");
        }
    }
}
