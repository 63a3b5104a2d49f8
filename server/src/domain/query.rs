//! Query strings as Kommo's clients write them, read by one rule.
//!
//! Kommo's reference writes a list as `key[]=a&key[]=b`; PHP's
//! `http_build_query`, which Kommo's official library sends through
//! Guzzle, writes it as `key[0]=a&key[1]=b` with the brackets
//! percent-encoded (`key%5B0%5D=a`), and its indices may have gaps.
//! `QueryParams` reads every form the way PHP's own parser (`parse_str`)
//! does: an explicit index set twice keeps its last value in its first
//! place, `[]` appends, the order of appearance is the order of the list.
//! A bracketed name that is not an index (`filter[size][from]`) is part of
//! the key. Which keys also take comma lists is the caller's choice
//! (`comma_list`), as Kommo allows them only for some filters.
//!
//! Plain Rust: the HTTP layer hands in the raw query string.

/// Where one occurrence of a key puts its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// `key=v`: the key's one value.
    Scalar,
    /// `key[]=v`: appended to the key's list.
    Append,
    /// `key[n]=v`: index `n` of the key's list.
    At(u64),
}

/// One `key=value` pair, its key split into the key proper and its slot.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pair {
    key: String,
    slot: Slot,
    value: String,
}

/// A decoded query string, read by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<Pair>,
}

/// Splits a trailing `[]` or `[digits]` off a key.
fn split_slot(key: &str) -> (&str, Slot) {
    let Some(open) = key.strip_suffix(']').and_then(|k| k.rfind('[')) else {
        return (key, Slot::Scalar);
    };
    let (base, inner) = (&key[..open], &key[open + 1..key.len() - 1]);
    if base.is_empty() {
        return (key, Slot::Scalar);
    }
    if inner.is_empty() {
        return (base, Slot::Append);
    }
    match inner.bytes().all(|b| b.is_ascii_digit()).then(|| inner.parse::<u64>().ok()).flatten() {
        Some(n) => (base, Slot::At(n)),
        None => (key, Slot::Scalar),
    }
}

impl QueryParams {
    /// Reads a raw query string (without the `?`); `+` and percent escapes,
    /// brackets included, are decoded first.
    pub fn parse(raw: &str) -> QueryParams {
        QueryParams::from_pairs(form_urlencoded::parse(raw.as_bytes()).into_owned())
    }

    /// Reads decoded `key=value` pairs in the order they came.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> QueryParams {
        let pairs = pairs
            .into_iter()
            .map(|(key, value)| {
                let (base, slot) = split_slot(&key);
                Pair { key: base.to_owned(), slot, value }
            })
            .collect();
        QueryParams { pairs }
    }

    /// Every key given, without its list index, in first-seen order.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for pair in &self.pairs {
            if !keys.contains(&pair.key.as_str()) {
                keys.push(&pair.key);
            }
        }
        keys
    }

    /// Whether `key` was given in any form.
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|p| p.key == key)
    }

    /// The one value of `key` (`key=v`; the last when repeated), trimmed;
    /// `None` when absent. A key given as a list is an error naming it.
    pub fn one(&self, key: &str) -> Result<Option<&str>, String> {
        let mut found = None;
        for pair in self.pairs.iter().filter(|p| p.key == key) {
            if pair.slot != Slot::Scalar {
                return Err(format!("{key} takes one value, not a list"));
            }
            found = Some(pair.value.trim());
        }
        Ok(found)
    }

    /// Every value of `key`, trimmed: `key[]=v` and `key[n]=v` as PHP
    /// builds the list (an index given again replaces its value in place),
    /// and `key=v` as one more item each time it appears.
    pub fn list(&self, key: &str) -> Vec<&str> {
        let mut items: Vec<(Option<u64>, &str)> = Vec::new();
        for pair in self.pairs.iter().filter(|p| p.key == key) {
            let value = pair.value.trim();
            match pair.slot {
                Slot::At(n) => match items.iter_mut().find(|(i, _)| *i == Some(n)) {
                    Some(item) => item.1 = value,
                    None => items.push((Some(n), value)),
                },
                Slot::Append | Slot::Scalar => items.push((None, value)),
            }
        }
        items.into_iter().map(|(_, v)| v).filter(|v| !v.is_empty()).collect()
    }

    /// `list`, each item also split at commas, where Kommo allows a comma
    /// list (`filter[uuid]=a,b`); empty items are dropped.
    pub fn comma_list(&self, key: &str) -> Vec<&str> {
        self.list(key)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kommo_and_the_php_forms_of_a_list_read_alike() {
        for raw in [
            "filter[extensions][]=pdf&filter[extensions][]=txt",
            "filter[extensions][0]=pdf&filter[extensions][1]=txt",
            "filter%5Bextensions%5D%5B0%5D=pdf&filter%5Bextensions%5D%5B1%5D=txt",
            "filter%5bextensions%5d%5b%5d=pdf&filter[extensions][]=txt",
            "filter[extensions]=pdf&filter[extensions]=txt",
        ] {
            let q = QueryParams::parse(raw);
            assert_eq!(q.list("filter[extensions]"), ["pdf", "txt"], "{raw}");
            assert_eq!(q.keys(), ["filter[extensions]"], "{raw}");
        }
    }

    #[test]
    fn indices_keep_the_order_they_came_in_with_gaps_and_repeats_as_php() {
        let q = QueryParams::parse("k[1]=w&k[0]=v&k[7]=x");
        assert_eq!(q.list("k"), ["w", "v", "x"]);
        // An index sent again replaces its value where it first stood.
        let q = QueryParams::parse("k[0]=a&k[1]=b&k[0]=c&k[]=d");
        assert_eq!(q.list("k"), ["c", "b", "d"]);
    }

    #[test]
    fn comma_lists_split_only_when_asked() {
        let q = QueryParams::parse("filter[uuid]=a,%20b,,c&filter[uuid][]=d");
        assert_eq!(q.comma_list("filter[uuid]"), ["a", "b", "c", "d"]);
        assert_eq!(q.list("filter[uuid]"), ["a, b,,c", "d"]);
    }

    #[test]
    fn named_brackets_stay_part_of_the_key() {
        let q = QueryParams::parse("filter[size][from]=1&order[created_at]=asc&filter[date][0]=5");
        assert_eq!(q.one("filter[size][from]"), Ok(Some("1")));
        assert_eq!(q.one("order[created_at]"), Ok(Some("asc")));
        assert_eq!(q.keys(), ["filter[size][from]", "order[created_at]", "filter[date]"]);
        assert_eq!(q.list("filter[date]"), ["5"]);
        // Oddities that are not list indices are kept whole.
        assert_eq!(split_slot("[0]"), ("[0]", Slot::Scalar));
        assert_eq!(split_slot("k[-1]"), ("k[-1]", Slot::Scalar));
        assert_eq!(split_slot("k[ 1]"), ("k[ 1]", Slot::Scalar));
        assert_eq!(split_slot("k]"), ("k]", Slot::Scalar));
        assert_eq!(
            split_slot("k[99999999999999999999999]"),
            ("k[99999999999999999999999]", Slot::Scalar)
        );
    }

    #[test]
    fn one_value_is_the_last_and_a_list_where_one_is_expected_is_named() {
        let q = QueryParams::parse("page=1&page=%202%20&filter[name][]=x");
        assert_eq!(q.one("page"), Ok(Some("2")));
        assert_eq!(q.one("limit"), Ok(None));
        assert!(!q.has("limit") && q.has("page"));
        let error = q.one("filter[name]").unwrap_err();
        assert!(error.contains("filter[name]") && error.contains("not a list"), "{error}");
    }

    #[test]
    fn empty_values_are_no_items_and_plus_is_a_space() {
        let q = QueryParams::parse("k[]=&k[]=a+b&&=x&k");
        assert_eq!(q.list("k"), ["a b"]);
        assert_eq!(QueryParams::parse("").keys(), Vec::<&str>::new());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::listing::ListQuery;

    /// Query strings made of the pieces list filters use, and noise.
    fn query_string() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("page".to_owned()),
            Just("limit".to_owned()),
            Just("filter[uuid]".to_owned()),
            Just("filter[uuid][]".to_owned()),
            Just("filter[name]".to_owned()),
            Just("filter[extensions][0]".to_owned()),
            Just("filter[term]".to_owned()),
            Just("filter[deleted]".to_owned()),
            Just("filter[size][from]".to_owned()),
            Just("filter[size][to]".to_owned()),
            Just("filter[size][unit]".to_owned()),
            Just("filter[date][type]".to_owned()),
            Just("filter[date][date_preset]".to_owned()),
            Just("filter[date][from]".to_owned()),
            Just("filter[created_by][]".to_owned()),
            Just("order[created_at]".to_owned()),
            Just("with".to_owned()),
            "[a-z\\[\\]%0-9]{0,12}",
        ];
        let value = prop_oneof![
            "[0-9]{0,20}",
            "-?[0-9]{1,5}",
            Just("asc".to_owned()),
            Just("desc".to_owned()),
            Just("today".to_owned()),
            Just("mb".to_owned()),
            any::<String>(),
        ];
        proptest::collection::vec((key, value), 0..8).prop_map(|pairs| {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        })
    }

    proptest! {
        #[test]
        fn any_query_string_is_read(raw in any::<String>()) {
            let params = QueryParams::parse(&raw);
            for key in params.keys() {
                let _ = (params.one(key), params.list(key), params.comma_list(key));
            }
            let _ = ListQuery::parse(&params, 1_700_000_000);
        }

        /// List filters read or refuse any mix of their parameters.
        #[test]
        fn list_filters_read_or_refuse_any_mix(raw in query_string(), now in 0i64..4_000_000_000) {
            match ListQuery::parse(&QueryParams::parse(&raw), now) {
                Ok(_) => {}
                Err(reason) => prop_assert!(!reason.is_empty()),
            }
        }
    }
}
