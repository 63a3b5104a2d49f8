//! Token scopes, as the contract names them: `files` (every `/v1.0`
//! method), `files_delete` (needed in addition for batch delete) and `crm`
//! (everything under `/api/v4`).

use std::{fmt, str::FromStr};

/// One permission a token may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Files,
    FilesDelete,
    Crm,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Files, Scope::FilesDelete, Scope::Crm];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Files => "files",
            Scope::FilesDelete => "files_delete",
            Scope::Crm => "crm",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Files => 1,
            Scope::FilesDelete => 2,
            Scope::Crm => 4,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scope list was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope `{0}` (known: files, files_delete, crm)")]
    Unknown(String),
    #[error("at least one scope is required (files, files_delete, crm)")]
    Empty,
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| ScopeError::Unknown(s.to_owned()))
    }
}

/// A non-empty set of scopes, written as a comma-separated list
/// (`files,files_delete,crm`) on the command line and in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl From<Scope> for Scopes {
    fn from(scope: Scope) -> Self {
        Scopes(scope.bit())
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl FromStr for Scopes {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let scopes = s
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Scope::from_str)
            .collect::<Result<Scopes, _>>()?;
        if scopes.0 == 0 {
            return Err(ScopeError::Empty);
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_list_round_trips_in_canonical_order() {
        let scopes: Scopes = "crm, files,files_delete".parse().unwrap();
        assert_eq!(scopes.to_string(), "files,files_delete,crm");
        assert!(scopes.contains(Scope::Crm));
    }

    #[test]
    fn files_scope_alone_does_not_grant_delete_or_crm() {
        let scopes: Scopes = "files".parse().unwrap();
        assert!(scopes.contains(Scope::Files));
        assert!(!scopes.contains(Scope::FilesDelete));
        assert!(!scopes.contains(Scope::Crm));
    }

    #[test]
    fn unknown_and_empty_scope_lists_are_refused() {
        assert_eq!("files,admin".parse::<Scopes>(), Err(ScopeError::Unknown("admin".into())));
        assert_eq!(" , ".parse::<Scopes>(), Err(ScopeError::Empty));
    }
}
