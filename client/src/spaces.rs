//! The answer of `GET /user/spaces`, typed.

use crate::types;

/// What upstream Onezone sends as `default` when the user has none.
pub const UNDEFINED: &str = "undefined";

/// A user's spaces. Unlike the wire format, "no default" is `None`, not the string
/// `"undefined"`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserSpaces {
    /// Space ids, sorted and without duplicates (as the server promises).
    pub spaces: Vec<String>,
    /// The default space, if the user has one.
    pub default: Option<String>,
}

impl UserSpaces {
    /// Whether `space_id` is the user's default space.
    pub fn is_default(&self, space_id: &str) -> bool {
        self.default.as_deref() == Some(space_id)
    }
}

impl From<types::UserSpaces> for UserSpaces {
    fn from(wire: types::UserSpaces) -> Self {
        let default = wire.default.filter(|d| d != UNDEFINED && !d.is_empty());
        UserSpaces {
            spaces: wire.spaces,
            default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_becomes_none() {
        let wire = |default: Option<&str>| types::UserSpaces {
            spaces: vec!["a".into()],
            default: default.map(Into::into),
        };
        assert_eq!(UserSpaces::from(wire(Some("undefined"))).default, None);
        assert_eq!(UserSpaces::from(wire(None)).default, None);
        let typed = UserSpaces::from(wire(Some("a")));
        assert_eq!(typed.default.as_deref(), Some("a"));
        assert!(typed.is_default("a"));
    }
}
