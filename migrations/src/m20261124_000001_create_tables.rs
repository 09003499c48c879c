//! The first schema: realms, keys, clients, users, sessions, consents, codes and tokens.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, blob, boolean, string, string_null, text, text_null};

/// Creates every table of the first release.
#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

fn pk(cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    for c in cols {
        i.col(*c);
    }
    i.to_owned()
}

fn index(name: &'static str, table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(*c);
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("realms")
                .if_not_exists()
                .col(string("name").primary_key())
                .col(blob("secret_key"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("signing_keys")
                .if_not_exists()
                .col(string("realm"))
                .col(string("kid"))
                .col(string("alg"))
                .col(blob("private_pkcs8"))
                .col(string("state"))
                .col(big_integer("created_at"))
                .primary_key(&mut pk(&["realm", "kid"]))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("clients")
                .if_not_exists()
                .col(string("realm"))
                .col(string("client_id"))
                .col(text("name"))
                .col(string("client_type"))
                .col(text_null("client_secret"))
                .col(text("response_types"))
                .col(string("jwt_alg"))
                .col(big_integer("date_created"))
                .col(text("redirect_uris"))
                .col(text("post_logout_redirect_uris"))
                .col(boolean("require_consent"))
                .col(boolean("reuse_consent"))
                .col(text_null("website_url"))
                .col(text_null("terms_url"))
                .col(text_null("contact_email"))
                .col(text_null("logo"))
                .col(text("allowed_scopes"))
                .col(boolean("enabled"))
                .primary_key(&mut pk(&["realm", "client_id"]))
                .to_owned(),
        )
        .await?;
        let mut users = Table::create();
        users
            .table("users")
            .if_not_exists()
            .col(string("realm"))
            .col(string("id"))
            .col(string("username"))
            .col(text_null("password_hash"))
            .col(boolean("active"));
        for c in USER_TEXT_CLAIMS {
            users.col(text_null(*c));
        }
        users
            .col(boolean("email_verified"))
            .col(boolean("phone_number_verified"))
            .col(big_integer("created_at"))
            .col(big_integer("updated_at"))
            .primary_key(&mut pk(&["realm", "id"]));
        m.create_table(users.to_owned()).await?;
        m.create_index(index("users_realm_username", "users", &["realm", "username"], true)).await?;
        m.create_table(
            Table::create()
                .table("login_sessions")
                .if_not_exists()
                .col(string("digest").primary_key())
                .col(string("id"))
                .col(string("realm"))
                .col(string("user_id"))
                .col(big_integer("auth_time"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("login_sessions_user", "login_sessions", &["realm", "user_id"], false)).await?;
        m.create_table(
            Table::create()
                .table("consents")
                .if_not_exists()
                .col(string("realm"))
                .col(string("user_id"))
                .col(string("client_id"))
                .col(text("scope"))
                .col(big_integer("given_at"))
                .col(big_integer("expires_at"))
                .primary_key(&mut pk(&["realm", "user_id", "client_id"]))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("auth_codes")
                .if_not_exists()
                .col(string("digest").primary_key())
                .col(string("realm"))
                .col(string("client_id"))
                .col(string("user_id"))
                .col(text("redirect_uri"))
                .col(text("scope"))
                .col(text_null("nonce"))
                .col(string_null("code_challenge"))
                .col(string_null("code_challenge_method"))
                .col(big_integer("auth_time"))
                .col(string_null("session_id"))
                .col(big_integer("expires_at"))
                .col(string("grant_id"))
                .col(boolean("used"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("auth_codes_grant", "auth_codes", &["grant_id"], false)).await?;
        m.create_table(
            Table::create()
                .table("access_tokens")
                .if_not_exists()
                .col(string("digest").primary_key())
                .col(string("realm"))
                .col(string("client_id"))
                .col(string("user_id"))
                .col(text("scope"))
                .col(big_integer("expires_at"))
                .col(string("grant_id"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("access_tokens_grant", "access_tokens", &["grant_id"], false)).await?;
        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .if_not_exists()
                .col(string("digest").primary_key())
                .col(string("realm"))
                .col(string("client_id"))
                .col(string("user_id"))
                .col(text("scope"))
                .col(big_integer("expires_at"))
                .col(string("grant_id"))
                .col(big_integer("auth_time"))
                .col(string_null("session_id"))
                .col(boolean("used"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("refresh_tokens_grant", "refresh_tokens", &["grant_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "refresh_tokens",
            "access_tokens",
            "auth_codes",
            "consents",
            "login_sessions",
            "users",
            "clients",
            "signing_keys",
            "realms",
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

/// The users table's nullable text claim columns (OIDC Core §5.1).
const USER_TEXT_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "email",
    "phone_number",
    "address_formatted",
    "address_street_address",
    "address_locality",
    "address_region",
    "address_postal_code",
    "address_country",
];
