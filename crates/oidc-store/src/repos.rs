//! The repository traits of `oidc-core`, implemented for [`Store`].

use async_trait::async_trait;
use oidc_core::model::{
    AccessTokenRecord, Address, Client, CodeRecord, Consent, KeyRecord, KeyState, LoginSession, PasswordHash, Realm,
    RefreshTokenRecord, StandardClaims, User,
};
use oidc_core::pkce::PkceMethod;
use oidc_core::repo::{
    ClientRepo, CodeRepo, ConsentRepo, KeyRepo, RealmRepo, Redeemed, RepoError, RepoResult, Rotated, SessionRepo,
    TokenRepo, UserRepo,
};
use oidc_core::secret::{ClientSecret, Digest};
use oidc_core::time::UnixTime;
use sea_orm::{ConnectionTrait as _, QueryResult, TransactionTrait as _, Value};

use crate::Store;
use crate::convert::{corrupt, db, get, get_list, get_parsed, get_scope, list};

fn s(v: &str) -> Value {
    Value::from(v.to_owned())
}

fn opt(v: Option<&str>) -> Value {
    Value::from(v.map(str::to_owned))
}

fn t(v: UnixTime) -> Value {
    Value::from(v.secs())
}

fn not_found(what: String) -> RepoError {
    RepoError::NotFound(what)
}

impl Store {
    async fn exec(&self, sql: &str, values: Vec<Value>) -> RepoResult<u64> {
        Ok(self.db.execute_raw(self.stmt(sql, values)).await.map_err(db)?.rows_affected())
    }

    async fn one(&self, sql: &str, values: Vec<Value>) -> RepoResult<Option<QueryResult>> {
        self.db.query_one_raw(self.stmt(sql, values)).await.map_err(db)
    }

    async fn all(&self, sql: &str, values: Vec<Value>) -> RepoResult<Vec<QueryResult>> {
        self.db.query_all_raw(self.stmt(sql, values)).await.map_err(db)
    }
}

#[async_trait]
impl RealmRepo for Store {
    async fn realm(&self, name: &str) -> RepoResult<Option<Realm>> {
        let row = self.one("SELECT name, secret_key, created_at FROM realms WHERE name = $1", vec![s(name)]).await?;
        row.map(|r| {
            Ok(Realm {
                name: get(&r, "name")?,
                secret_key: get(&r, "secret_key")?,
                created_at: UnixTime(get(&r, "created_at")?),
            })
        })
        .transpose()
    }

    async fn create_realm(&self, realm: &Realm) -> RepoResult<()> {
        self.exec(
            "INSERT INTO realms (name, secret_key, created_at) VALUES ($1, $2, $3)",
            vec![s(&realm.name), Value::from(realm.secret_key.clone()), t(realm.created_at)],
        )
        .await?;
        Ok(())
    }

    async fn realm_names(&self) -> RepoResult<Vec<String>> {
        self.all("SELECT name FROM realms ORDER BY name", vec![]).await?.iter().map(|r| get(r, "name")).collect()
    }
}

#[async_trait]
impl KeyRepo for Store {
    async fn keys(&self, realm: &str) -> RepoResult<Vec<KeyRecord>> {
        let rows = self
            .all(
                "SELECT kid, realm, alg, private_pkcs8, state, created_at FROM signing_keys WHERE realm = $1 ORDER BY created_at, kid",
                vec![s(realm)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRecord {
                    kid: get(r, "kid")?,
                    realm: get(r, "realm")?,
                    alg: get(r, "alg")?,
                    private_pkcs8: get(r, "private_pkcs8")?,
                    state: get_parsed::<KeyState>(r, "state")?,
                    created_at: UnixTime(get(r, "created_at")?),
                })
            })
            .collect()
    }

    async fn add_key(&self, k: &KeyRecord) -> RepoResult<()> {
        self.exec(
            "INSERT INTO signing_keys (realm, kid, alg, private_pkcs8, state, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![s(&k.realm), s(&k.kid), s(&k.alg), Value::from(k.private_pkcs8.clone()), s(k.state.as_str()), t(k.created_at)],
        )
        .await?;
        Ok(())
    }

    async fn set_key_state(&self, realm: &str, kid: &str, state: KeyState) -> RepoResult<()> {
        let n = self
            .exec(
                "UPDATE signing_keys SET state = $1 WHERE realm = $2 AND kid = $3",
                vec![s(state.as_str()), s(realm), s(kid)],
            )
            .await?;
        if n == 0 { Err(not_found(format!("key {kid}"))) } else { Ok(()) }
    }
}

const CLIENT_COLS: &str = "realm, client_id, name, client_type, client_secret, response_types, jwt_alg, date_created, \
    redirect_uris, post_logout_redirect_uris, require_consent, reuse_consent, website_url, terms_url, contact_email, \
    logo, allowed_scopes, enabled";

fn client_from(r: &QueryResult) -> RepoResult<Client> {
    let response_types = get_list(r, "response_types")?
        .iter()
        .map(|v| v.parse().map_err(|e: String| corrupt("response_types", e)))
        .collect::<RepoResult<Vec<_>>>()?;
    Ok(Client {
        realm: get(r, "realm")?,
        client_id: get(r, "client_id")?,
        name: get(r, "name")?,
        client_type: get_parsed(r, "client_type")?,
        client_secret: get::<Option<String>>(r, "client_secret")?.map(ClientSecret::new),
        response_types,
        jwt_alg: get_parsed(r, "jwt_alg")?,
        date_created: UnixTime(get(r, "date_created")?),
        redirect_uris: get_list(r, "redirect_uris")?,
        post_logout_redirect_uris: get_list(r, "post_logout_redirect_uris")?,
        require_consent: get(r, "require_consent")?,
        reuse_consent: get(r, "reuse_consent")?,
        website_url: get(r, "website_url")?,
        terms_url: get(r, "terms_url")?,
        contact_email: get(r, "contact_email")?,
        logo: get(r, "logo")?,
        allowed_scopes: get_list(r, "allowed_scopes")?,
        enabled: get(r, "enabled")?,
    })
}

fn client_values(c: &Client) -> Vec<Value> {
    let rts: Vec<&str> = c.response_types.iter().map(|r| r.as_str()).collect();
    vec![
        s(&c.realm),
        s(&c.client_id),
        s(&c.name),
        s(c.client_type.as_str()),
        opt(c.client_secret.as_ref().map(|x| x.secret())),
        Value::from(list(&rts)),
        s(c.jwt_alg.as_str()),
        t(c.date_created),
        Value::from(list(&c.redirect_uris)),
        Value::from(list(&c.post_logout_redirect_uris)),
        Value::from(c.require_consent),
        Value::from(c.reuse_consent),
        opt(c.website_url.as_deref()),
        opt(c.terms_url.as_deref()),
        opt(c.contact_email.as_deref()),
        opt(c.logo.as_deref()),
        Value::from(list(&c.allowed_scopes)),
        Value::from(c.enabled),
    ]
}

#[async_trait]
impl ClientRepo for Store {
    async fn client(&self, realm: &str, client_id: &str) -> RepoResult<Option<Client>> {
        let sql = format!("SELECT {CLIENT_COLS} FROM clients WHERE realm = $1 AND client_id = $2");
        self.one(&sql, vec![s(realm), s(client_id)]).await?.map(|r| client_from(&r)).transpose()
    }

    async fn clients(&self, realm: &str) -> RepoResult<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLS} FROM clients WHERE realm = $1 ORDER BY client_id");
        self.all(&sql, vec![s(realm)]).await?.iter().map(client_from).collect()
    }

    async fn create_client(&self, c: &Client) -> RepoResult<()> {
        let sql = format!(
            "INSERT INTO clients ({CLIENT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        self.exec(&sql, client_values(c)).await?;
        Ok(())
    }

    async fn update_client(&self, c: &Client) -> RepoResult<()> {
        let sql = "UPDATE clients SET name = $3, client_type = $4, client_secret = $5, response_types = $6, jwt_alg = $7, \
            date_created = $8, redirect_uris = $9, post_logout_redirect_uris = $10, require_consent = $11, \
            reuse_consent = $12, website_url = $13, terms_url = $14, contact_email = $15, logo = $16, \
            allowed_scopes = $17, enabled = $18 WHERE realm = $1 AND client_id = $2";
        let n = self.exec(sql, client_values(c)).await?;
        if n == 0 { Err(not_found(format!("client {}", c.client_id))) } else { Ok(()) }
    }

    async fn delete_client(&self, realm: &str, client_id: &str) -> RepoResult<()> {
        let txn = self.db.begin().await.map_err(db)?;
        let be = self.backend();
        let args = || vec![s(realm), s(client_id)];
        let mut deleted = 0;
        for sql in [
            "DELETE FROM auth_codes WHERE realm = $1 AND client_id = $2",
            "DELETE FROM access_tokens WHERE realm = $1 AND client_id = $2",
            "DELETE FROM refresh_tokens WHERE realm = $1 AND client_id = $2",
            "DELETE FROM consents WHERE realm = $1 AND client_id = $2",
            "DELETE FROM clients WHERE realm = $1 AND client_id = $2",
        ] {
            deleted = txn
                .execute_raw(sea_orm::Statement::from_sql_and_values(be, sql, args()))
                .await
                .map_err(db)?
                .rows_affected();
        }
        if deleted == 0 {
            txn.rollback().await.map_err(db)?;
            return Err(not_found(format!("client {client_id}")));
        }
        txn.commit().await.map_err(db)
    }
}

const USER_COLS: &str = "realm, id, username, password_hash, active, name, given_name, family_name, middle_name, \
    nickname, preferred_username, profile, picture, website, gender, birthdate, zoneinfo, locale, email, \
    phone_number, address_formatted, address_street_address, address_locality, address_region, \
    address_postal_code, address_country, email_verified, phone_number_verified, created_at, updated_at";

fn user_from(r: &QueryResult) -> RepoResult<User> {
    Ok(User {
        realm: get(r, "realm")?,
        id: get(r, "id")?,
        username: get(r, "username")?,
        password_hash: get::<Option<String>>(r, "password_hash")?.map(PasswordHash),
        active: get(r, "active")?,
        claims: StandardClaims {
            name: get(r, "name")?,
            given_name: get(r, "given_name")?,
            family_name: get(r, "family_name")?,
            middle_name: get(r, "middle_name")?,
            nickname: get(r, "nickname")?,
            preferred_username: get(r, "preferred_username")?,
            profile: get(r, "profile")?,
            picture: get(r, "picture")?,
            website: get(r, "website")?,
            gender: get(r, "gender")?,
            birthdate: get(r, "birthdate")?,
            zoneinfo: get(r, "zoneinfo")?,
            locale: get(r, "locale")?,
            email: get(r, "email")?,
            email_verified: get(r, "email_verified")?,
            phone_number: get(r, "phone_number")?,
            phone_number_verified: get(r, "phone_number_verified")?,
            address: Address {
                formatted: get(r, "address_formatted")?,
                street_address: get(r, "address_street_address")?,
                locality: get(r, "address_locality")?,
                region: get(r, "address_region")?,
                postal_code: get(r, "address_postal_code")?,
                country: get(r, "address_country")?,
            },
        },
        created_at: UnixTime(get(r, "created_at")?),
        updated_at: UnixTime(get(r, "updated_at")?),
    })
}

#[async_trait]
impl UserRepo for Store {
    async fn user_by_username(&self, realm: &str, username: &str) -> RepoResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE realm = $1 AND username = $2");
        self.one(&sql, vec![s(realm), s(username)]).await?.map(|r| user_from(&r)).transpose()
    }

    async fn user(&self, realm: &str, id: &str) -> RepoResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE realm = $1 AND id = $2");
        self.one(&sql, vec![s(realm), s(id)]).await?.map(|r| user_from(&r)).transpose()
    }

    async fn users(&self, realm: &str) -> RepoResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE realm = $1 ORDER BY username");
        self.all(&sql, vec![s(realm)]).await?.iter().map(user_from).collect()
    }

    async fn create_user(&self, u: &User) -> RepoResult<()> {
        let c = &u.claims;
        let a = &c.address;
        let sql = format!(
            "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)"
        );
        let values = vec![
            s(&u.realm),
            s(&u.id),
            s(&u.username),
            opt(u.password_hash.as_ref().map(|h| h.0.as_str())),
            Value::from(u.active),
            opt(c.name.as_deref()),
            opt(c.given_name.as_deref()),
            opt(c.family_name.as_deref()),
            opt(c.middle_name.as_deref()),
            opt(c.nickname.as_deref()),
            opt(c.preferred_username.as_deref()),
            opt(c.profile.as_deref()),
            opt(c.picture.as_deref()),
            opt(c.website.as_deref()),
            opt(c.gender.as_deref()),
            opt(c.birthdate.as_deref()),
            opt(c.zoneinfo.as_deref()),
            opt(c.locale.as_deref()),
            opt(c.email.as_deref()),
            opt(c.phone_number.as_deref()),
            opt(a.formatted.as_deref()),
            opt(a.street_address.as_deref()),
            opt(a.locality.as_deref()),
            opt(a.region.as_deref()),
            opt(a.postal_code.as_deref()),
            opt(a.country.as_deref()),
            Value::from(c.email_verified),
            Value::from(c.phone_number_verified),
            t(u.created_at),
            t(u.updated_at),
        ];
        self.exec(&sql, values).await?;
        Ok(())
    }

    async fn set_password_hash(&self, realm: &str, id: &str, hash: &PasswordHash) -> RepoResult<()> {
        let n = self
            .exec("UPDATE users SET password_hash = $1 WHERE realm = $2 AND id = $3", vec![s(&hash.0), s(realm), s(id)])
            .await?;
        if n == 0 { Err(not_found(format!("user {id}"))) } else { Ok(()) }
    }

    async fn delete_user(&self, realm: &str, id: &str) -> RepoResult<()> {
        let txn = self.db.begin().await.map_err(db)?;
        let be = self.backend();
        let mut deleted = 0;
        for sql in [
            "DELETE FROM login_sessions WHERE realm = $1 AND user_id = $2",
            "DELETE FROM auth_codes WHERE realm = $1 AND user_id = $2",
            "DELETE FROM access_tokens WHERE realm = $1 AND user_id = $2",
            "DELETE FROM refresh_tokens WHERE realm = $1 AND user_id = $2",
            "DELETE FROM consents WHERE realm = $1 AND user_id = $2",
            "DELETE FROM users WHERE realm = $1 AND id = $2",
        ] {
            deleted = txn
                .execute_raw(sea_orm::Statement::from_sql_and_values(be, sql, vec![s(realm), s(id)]))
                .await
                .map_err(db)?
                .rows_affected();
        }
        if deleted == 0 {
            txn.rollback().await.map_err(db)?;
            return Err(not_found(format!("user {id}")));
        }
        txn.commit().await.map_err(db)
    }
}

#[async_trait]
impl SessionRepo for Store {
    async fn create_session(&self, x: &LoginSession) -> RepoResult<()> {
        self.exec(
            "INSERT INTO login_sessions (digest, id, realm, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![s(x.digest.as_str()), s(&x.id), s(&x.realm), s(&x.user_id), t(x.auth_time), t(x.expires_at)],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, realm: &str, digest: &Digest, now: UnixTime) -> RepoResult<Option<LoginSession>> {
        let row = self
            .one(
                "SELECT digest, id, realm, user_id, auth_time, expires_at FROM login_sessions \
                 WHERE digest = $1 AND realm = $2 AND expires_at > $3",
                vec![s(digest.as_str()), s(realm), t(now)],
            )
            .await?;
        row.map(|r| {
            Ok(LoginSession {
                digest: Digest(get(&r, "digest")?),
                id: get(&r, "id")?,
                realm: get(&r, "realm")?,
                user_id: get(&r, "user_id")?,
                auth_time: UnixTime(get(&r, "auth_time")?),
                expires_at: UnixTime(get(&r, "expires_at")?),
            })
        })
        .transpose()
    }

    async fn delete_session(&self, realm: &str, digest: &Digest) -> RepoResult<()> {
        self.exec("DELETE FROM login_sessions WHERE digest = $1 AND realm = $2", vec![s(digest.as_str()), s(realm)])
            .await?;
        Ok(())
    }
}

fn consent_from(r: &QueryResult) -> RepoResult<Consent> {
    Ok(Consent {
        realm: get(r, "realm")?,
        user_id: get(r, "user_id")?,
        client_id: get(r, "client_id")?,
        scope: get_scope(r, "scope")?,
        given_at: UnixTime(get(r, "given_at")?),
        expires_at: UnixTime(get(r, "expires_at")?),
    })
}

#[async_trait]
impl ConsentRepo for Store {
    async fn consent(&self, realm: &str, user_id: &str, client_id: &str) -> RepoResult<Option<Consent>> {
        self.one(
            "SELECT realm, user_id, client_id, scope, given_at, expires_at FROM consents \
             WHERE realm = $1 AND user_id = $2 AND client_id = $3",
            vec![s(realm), s(user_id), s(client_id)],
        )
        .await?
        .map(|r| consent_from(&r))
        .transpose()
    }

    async fn save_consent(&self, c: &Consent) -> RepoResult<()> {
        self.exec(
            "INSERT INTO consents (realm, user_id, client_id, scope, given_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (realm, user_id, client_id) DO UPDATE SET scope = excluded.scope, given_at = excluded.given_at, \
             expires_at = excluded.expires_at",
            vec![s(&c.realm), s(&c.user_id), s(&c.client_id), Value::from(c.scope.to_string()), t(c.given_at), t(c.expires_at)],
        )
        .await?;
        Ok(())
    }

    async fn consents_of_user(&self, realm: &str, user_id: &str) -> RepoResult<Vec<Consent>> {
        self.all(
            "SELECT realm, user_id, client_id, scope, given_at, expires_at FROM consents \
             WHERE realm = $1 AND user_id = $2 ORDER BY client_id",
            vec![s(realm), s(user_id)],
        )
        .await?
        .iter()
        .map(consent_from)
        .collect()
    }

    async fn delete_consent(&self, realm: &str, user_id: &str, client_id: &str) -> RepoResult<()> {
        self.exec(
            "DELETE FROM consents WHERE realm = $1 AND user_id = $2 AND client_id = $3",
            vec![s(realm), s(user_id), s(client_id)],
        )
        .await?;
        Ok(())
    }
}

const CODE_COLS: &str = "digest, realm, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
    code_challenge_method, auth_time, session_id, expires_at, grant_id";

fn code_from(r: &QueryResult) -> RepoResult<CodeRecord> {
    let method = match get::<Option<String>>(r, "code_challenge_method")?.as_deref() {
        None => None,
        Some("plain") => Some(PkceMethod::Plain),
        Some("S256") => Some(PkceMethod::S256),
        Some(other) => return Err(corrupt("code_challenge_method", other)),
    };
    Ok(CodeRecord {
        digest: Digest(get(r, "digest")?),
        realm: get(r, "realm")?,
        client_id: get(r, "client_id")?,
        user_id: get(r, "user_id")?,
        redirect_uri: get(r, "redirect_uri")?,
        scope: get_scope(r, "scope")?,
        nonce: get(r, "nonce")?,
        code_challenge: get(r, "code_challenge")?,
        code_challenge_method: method,
        auth_time: UnixTime(get(r, "auth_time")?),
        session_id: get(r, "session_id")?,
        expires_at: UnixTime(get(r, "expires_at")?),
        grant_id: get(r, "grant_id")?,
    })
}

#[async_trait]
impl CodeRepo for Store {
    async fn save_code(&self, c: &CodeRecord) -> RepoResult<()> {
        let sql = format!(
            "INSERT INTO auth_codes ({CODE_COLS}, used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, FALSE)"
        );
        self.exec(
            &sql,
            vec![
                s(c.digest.as_str()),
                s(&c.realm),
                s(&c.client_id),
                s(&c.user_id),
                s(&c.redirect_uri),
                Value::from(c.scope.to_string()),
                opt(c.nonce.as_deref()),
                opt(c.code_challenge.as_deref()),
                opt(c.code_challenge_method.map(|m| m.as_str())),
                t(c.auth_time),
                opt(c.session_id.as_deref()),
                t(c.expires_at),
                s(&c.grant_id),
            ],
        )
        .await?;
        Ok(())
    }

    async fn redeem_code(&self, realm: &str, digest: &Digest) -> RepoResult<Redeemed> {
        // One conditional UPDATE: of concurrent redemptions only one sees used = FALSE.
        let sql = format!(
            "UPDATE auth_codes SET used = TRUE WHERE digest = $1 AND realm = $2 AND used = FALSE RETURNING {CODE_COLS}"
        );
        if let Some(r) = self.one(&sql, vec![s(digest.as_str()), s(realm)]).await? {
            return Ok(Redeemed::First(code_from(&r)?));
        }
        let sql = format!("SELECT {CODE_COLS} FROM auth_codes WHERE digest = $1 AND realm = $2");
        match self.one(&sql, vec![s(digest.as_str()), s(realm)]).await? {
            Some(r) => Ok(Redeemed::Replayed(code_from(&r)?)),
            None => Ok(Redeemed::Unknown),
        }
    }
}

const REFRESH_COLS: &str = "digest, realm, client_id, user_id, scope, expires_at, grant_id, auth_time, session_id";

fn refresh_from(r: &QueryResult) -> RepoResult<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        digest: Digest(get(r, "digest")?),
        realm: get(r, "realm")?,
        client_id: get(r, "client_id")?,
        user_id: get(r, "user_id")?,
        scope: get_scope(r, "scope")?,
        expires_at: UnixTime(get(r, "expires_at")?),
        grant_id: get(r, "grant_id")?,
        auth_time: UnixTime(get(r, "auth_time")?),
        session_id: get(r, "session_id")?,
    })
}

#[async_trait]
impl TokenRepo for Store {
    async fn save_tokens(&self, a: &AccessTokenRecord, refresh: Option<&RefreshTokenRecord>) -> RepoResult<()> {
        let be = self.backend();
        let txn = self.db.begin().await.map_err(db)?;
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            be,
            "INSERT INTO access_tokens (digest, realm, client_id, user_id, scope, expires_at, grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![s(a.digest.as_str()), s(&a.realm), s(&a.client_id), s(&a.user_id), Value::from(a.scope.to_string()), t(a.expires_at), s(&a.grant_id)],
        ))
        .await
        .map_err(db)?;
        if let Some(r) = refresh {
            let sql = format!(
                "INSERT INTO refresh_tokens ({REFRESH_COLS}, used) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE)"
            );
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                be,
                sql,
                vec![
                    s(r.digest.as_str()),
                    s(&r.realm),
                    s(&r.client_id),
                    s(&r.user_id),
                    Value::from(r.scope.to_string()),
                    t(r.expires_at),
                    s(&r.grant_id),
                    t(r.auth_time),
                    opt(r.session_id.as_deref()),
                ],
            ))
            .await
            .map_err(db)?;
        }
        txn.commit().await.map_err(db)
    }

    async fn access_token(&self, realm: &str, digest: &Digest) -> RepoResult<Option<AccessTokenRecord>> {
        let row = self
            .one(
                "SELECT digest, realm, client_id, user_id, scope, expires_at, grant_id FROM access_tokens WHERE digest = $1 AND realm = $2",
                vec![s(digest.as_str()), s(realm)],
            )
            .await?;
        row.map(|r| {
            Ok(AccessTokenRecord {
                digest: Digest(get(&r, "digest")?),
                realm: get(&r, "realm")?,
                client_id: get(&r, "client_id")?,
                user_id: get(&r, "user_id")?,
                scope: get_scope(&r, "scope")?,
                expires_at: UnixTime(get(&r, "expires_at")?),
                grant_id: get(&r, "grant_id")?,
            })
        })
        .transpose()
    }

    async fn use_refresh_token(&self, realm: &str, digest: &Digest) -> RepoResult<Rotated> {
        let sql = format!(
            "UPDATE refresh_tokens SET used = TRUE WHERE digest = $1 AND realm = $2 AND used = FALSE RETURNING {REFRESH_COLS}"
        );
        if let Some(r) = self.one(&sql, vec![s(digest.as_str()), s(realm)]).await? {
            return Ok(Rotated::First(refresh_from(&r)?));
        }
        let sql = format!("SELECT {REFRESH_COLS} FROM refresh_tokens WHERE digest = $1 AND realm = $2");
        match self.one(&sql, vec![s(digest.as_str()), s(realm)]).await? {
            Some(r) => Ok(Rotated::Replayed(refresh_from(&r)?)),
            None => Ok(Rotated::Unknown),
        }
    }

    async fn revoke_grant(&self, realm: &str, grant_id: &str) -> RepoResult<()> {
        let be = self.backend();
        let txn = self.db.begin().await.map_err(db)?;
        for sql in [
            "DELETE FROM access_tokens WHERE realm = $1 AND grant_id = $2",
            // Used refresh tokens stay (marked used) so that a later replay is still recognized.
            "UPDATE refresh_tokens SET used = TRUE WHERE realm = $1 AND grant_id = $2",
            "UPDATE auth_codes SET used = TRUE WHERE realm = $1 AND grant_id = $2",
        ] {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(be, sql, vec![s(realm), s(grant_id)]))
                .await
                .map_err(db)?;
        }
        txn.commit().await.map_err(db)
    }
}
