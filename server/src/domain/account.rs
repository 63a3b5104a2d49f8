//! `GET /api/v4/account`: which of Kommo's `with` values Satchel answers.
//!
//! Kommo adds parts of the account object on request (`with=a,b`). Satchel
//! answers the ones it can answer truthfully and ignores the rest, as
//! Kommo ignores values it does not know: a chat id (`amojo_id`), Kommo's
//! own release (`version`), an account `uuid`, translated entity names,
//! locale settings and invoice settings have no truthful value here.

/// What an account request asks for beyond the account's own fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountWith {
    /// `drive_url`: where the Files API is served, Satchel's public URL.
    pub drive_url: bool,
    /// `amojo_rights`: Satchel has no chats, so every right is false.
    pub amojo_rights: bool,
    /// `users_groups`: Satchel has no user groups: an empty list.
    pub users_groups: bool,
    /// `task_types`: Satchel has no tasks: an empty list.
    pub task_types: bool,
    /// `is_api_filter_enabled`: list filters always work here: true.
    pub is_api_filter_enabled: bool,
}

impl AccountWith {
    /// Reads the values of `with`; unknown ones are ignored.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> AccountWith {
        let mut with = AccountWith::default();
        for value in values {
            match value.trim() {
                "drive_url" => with.drive_url = true,
                "amojo_rights" => with.amojo_rights = true,
                "users_groups" => with.users_groups = true,
                "task_types" => with.task_types = true,
                "is_api_filter_enabled" => with.is_api_filter_enabled = true,
                _ => {}
            }
        }
        with
    }

    /// Whether the answer carries `_embedded`.
    pub fn embeds(&self) -> bool {
        self.amojo_rights || self.users_groups || self.task_types
    }
}

/// Kommo's `customers_mode` for an account without the customers feature:
/// Satchel's CRM side has leads, contacts and companies only.
pub const CUSTOMERS_MODE: &str = "unavailable";

/// Kommo's `contact_name_display_order`: 1 is "first name, last name".
/// Satchel keeps a contact's name as one string and shows it as written.
pub const CONTACT_NAME_DISPLAY_ORDER: i64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_read_and_others_ignored() {
        let with = AccountWith::parse(["drive_url", " task_types ", "amojo_id", "version", ""]);
        assert_eq!(
            with,
            AccountWith { drive_url: true, task_types: true, ..AccountWith::default() }
        );
        assert!(with.embeds());
        assert_eq!(AccountWith::parse([]), AccountWith::default());
        assert!(!AccountWith::parse(["drive_url", "is_api_filter_enabled"]).embeds());
    }
}
