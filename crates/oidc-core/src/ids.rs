//! Typed identifiers for the repository traits.
//!
//! A realm's name, a client's `client_id` and a user's id are all strings,
//! and several repository methods take two or three of them
//! (`consent(realm, user_id, client_id)`). Each method takes them as these
//! types instead, so that a call with its arguments swapped does not compile:
//!
//! ```compile_fail
//! # use oidc_core::ids::{ClientId, RealmName, UserId};
//! fn consent(_realm: RealmName<'_>, _user: UserId<'_>, _client: ClientId<'_>) {}
//! let (realm, user, client) = (RealmName::new("main"), UserId::new("u1"), ClientId::new("app"));
//! consent(realm, client, user); // expected `UserId`, found `ClientId`
//! ```
//!
//! They borrow: naming an id costs no allocation, and the records the store
//! returns say which id is which through their accessors
//! ([`crate::model::Client::id`], [`crate::model::User::id_ref`], ...).

use std::fmt;

macro_rules! borrowed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            /// Names `value` as this kind of id.
            #[must_use]
            pub const fn new(value: &'a str) -> Self {
                Self(value)
            }

            /// The id as a string.
            #[must_use]
            pub const fn as_str(self) -> &'a str {
                self.0
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                self.0
            }
        }

        impl PartialEq<str> for $name<'_> {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name<'_> {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

borrowed_id!(
    /// A realm's name (the `{realm}` of its URLs).
    RealmName
);
borrowed_id!(
    /// A client's `client_id` (RFC 6749 §2.2), unique in its realm.
    ClientId
);
borrowed_id!(
    /// A user's id: the stable identifier behind the public `sub`, unique in its realm.
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_borrow_compare_and_print_their_value() {
        let realm = RealmName::new("main");
        assert_eq!(realm.as_str(), "main");
        assert_eq!(realm, "main");
        assert_eq!(realm.to_string(), "main");
        assert_eq!(format!("{:?}", ClientId::new("app")), "ClientId(\"app\")");
        assert_eq!(format!("{:?}", UserId::new("u1")), "UserId(\"u1\")");
        assert_ne!(ClientId::new("a"), ClientId::new("b"));
    }
}
