//! Form bodies as PHP and HTML forms write them, read into typed values.
//!
//! `http_build_query`, which Kommo integrations written in PHP send,
//! nests with brackets: `created_by[id]=5`, lists as `files[0][uuid]=a`
//! (brackets often percent-encoded), and a top-level list as
//! `0[uuid]=a&1[uuid]=b`. Keys are read the way PHP's `parse_str` reads
//! them: `[]` appends after the highest index so far, an index or name
//! given again replaces its value where it first stood, a list keeps the
//! order its items came in. A key that starts with a bracket
//! (`[0][uuid]=a`) names the top level by its first bracket.
//!
//! Every value arrives as text and is read as the target type asks:
//! numbers are parsed, booleans are `1`/`true`/`on` or `0`/`false`/`off`
//! (PHP writes `true` as `1`), an empty value of an optional field is
//! absent (a form cannot send null). Unknown fields are ignored, as in
//! JSON, and so is a value with no name (`=x`), as PHP does. A malformed
//! key, a key nested deeper than `MAX_DEPTH` or a key that is both a
//! value and a group spoils its top-level field: an error whose text
//! names the key when the target reads that field, ignored like any
//! unknown field otherwise. A value of the wrong type is an error whose
//! text names the key.
//!
//! Plain Rust: the HTTP layer hands in the decoded `name=value` pairs.

use std::{collections::HashMap, fmt};

use serde::de::{
    self, value::StringDeserializer, DeserializeOwned, DeserializeSeed, IntoDeserializer,
    MapAccess, SeqAccess, Visitor,
};

/// Deepest nesting a key may have (`a[b][c]` is 3).
pub const MAX_DEPTH: usize = 8;

/// Reads an `application/x-www-form-urlencoded` body into `T`.
pub fn from_urlencoded<T: DeserializeOwned>(body: &[u8]) -> Result<T, FormError> {
    from_pairs(form_urlencoded::parse(body).into_owned())
}

/// Reads decoded `name=value` pairs, in the order they came, into `T`.
pub fn from_pairs<T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<T, FormError> {
    let mut root = Group::default();
    for (key, value) in pairs {
        // PHP's parse_str drops a value with no name (`=x`), as JSON
        // readers drop fields they do not know.
        if key.is_empty() {
            continue;
        }
        // A key that cannot be read, or that clashes with another, spoils
        // only its top-level field: an error if the target reads that
        // field, ignored like any unknown field otherwise (PHP reads every
        // key somehow, so a Kommo client never hears of such keys).
        let spoiled = match key_path(&key) {
            Err(message) => Some((key[..key.find('[').unwrap_or(key.len())].to_owned(), message)),
            Ok(path) => {
                let top = match &path[0] {
                    Step::Name(name) => name.clone(),
                    Step::Append => root.next_index.to_string(),
                };
                root.insert(&path, value).err().map(|message| (top, message))
            }
        };
        if let Some((top, message)) = spoiled {
            root.spoil(top, FormError::at(&key, message));
        }
    }
    T::deserialize(Node { tree: Tree::Group(root), path: String::new() })
}

/// Why a form could not be read; its text names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The key as a PHP form writes it (`files[0][uuid]`); empty for the
    /// form as a whole.
    key: String,
    message: String,
}

impl FormError {
    fn at(key: &str, message: impl Into<String>) -> Self {
        FormError { key: key.to_owned(), message: message.into() }
    }

    /// Names `key` unless a deeper key is named already.
    fn within(mut self, key: &str) -> Self {
        if self.key.is_empty() {
            self.key = key.to_owned();
        }
        self
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key.as_str() {
            "" => f.write_str(&self.message),
            key => write!(f, "{key}: {}", self.message),
        }
    }
}

impl std::error::Error for FormError {}

impl de::Error for FormError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        FormError::at("", message.to_string())
    }
}

/// One bracket of a key: a name (or index), or `[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Append,
}

/// Splits `a[b][]` into its steps; a key that does not close its
/// brackets, or has text after one, is refused.
fn key_path(key: &str) -> Result<Vec<Step>, String> {
    let (head, mut rest) = key.split_at(key.find('[').unwrap_or(key.len()));
    let mut steps = Vec::new();
    if !head.is_empty() {
        steps.push(Step::Name(head.to_owned()));
    }
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.find(']').map(|end| (&r[..end], &r[end + 1..])))
            .filter(|(inner, _)| !inner.contains('['));
        let Some((inner, after)) = inner else {
            return Err(format!(
                "the key is malformed: write a nested key as `name[field]` or `name[0]`, \
                 not `{key}`"
            ));
        };
        steps.push(if inner.is_empty() { Step::Append } else { Step::Name(inner.to_owned()) });
        rest = after;
    }
    match steps.first() {
        None => Err("a value has no name".to_owned()),
        Some(_) if steps.len() > MAX_DEPTH => {
            Err(format!("the key nests deeper than {MAX_DEPTH} levels"))
        }
        Some(_) => Ok(steps),
    }
}

/// A list index as PHP reads one: digits without a leading zero.
fn index_of(name: &str) -> Option<u64> {
    let canonical = name == "0" || (!name.starts_with('0') && !name.is_empty());
    canonical.then(|| name.parse().ok()).flatten()
}

/// The form as a tree: text at the leaves, groups of named children.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tree {
    Text(String),
    Group(Group),
    /// A field some key of which could not be read: its error.
    Spoiled(FormError),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Group {
    /// Children in the order their names first came.
    children: Vec<(String, Tree)>,
    /// Where each name stands in `children`: a large form is read in
    /// linear time.
    positions: HashMap<String, usize>,
    /// Where the next `[]` goes: one past the highest index so far.
    next_index: u64,
}

impl Group {
    fn insert(&mut self, path: &[Step], value: String) -> Result<(), String> {
        let (step, deeper) = path.split_first().expect("a key has at least one step");
        let name = match step {
            Step::Append => self.next_index.to_string(),
            Step::Name(name) => name.clone(),
        };
        if let Some(n) = index_of(&name) {
            self.next_index = self.next_index.max(n.saturating_add(1));
        }
        let at = match self.positions.get(&name) {
            Some(&at) => at,
            None => {
                let fresh = if deeper.is_empty() {
                    Tree::Text(String::new())
                } else {
                    Tree::Group(Group::default())
                };
                self.positions.insert(name.clone(), self.children.len());
                self.children.push((name.clone(), fresh));
                self.children.len() - 1
            }
        };
        match (&mut self.children[at].1, deeper.is_empty()) {
            (Tree::Spoiled(_), _) => Ok(()),
            (Tree::Text(text), true) => {
                *text = value;
                Ok(())
            }
            (Tree::Group(group), false) => group.insert(deeper, value),
            _ => Err(format!("`{name}` is given both as one value and as a group of values")),
        }
    }

    /// Marks child `name` as spoiled by `error` (the first error stays).
    fn spoil(&mut self, name: String, error: FormError) {
        match self.positions.get(&name) {
            Some(&at) => {
                if !matches!(self.children[at].1, Tree::Spoiled(_)) {
                    self.children[at].1 = Tree::Spoiled(error);
                }
            }
            None => {
                self.positions.insert(name.clone(), self.children.len());
                self.children.push((name, Tree::Spoiled(error)));
            }
        }
    }

    /// A list when every name is an index (PHP's list form).
    fn is_list(&self) -> bool {
        self.children.iter().all(|(name, _)| index_of(name).is_some())
    }
}

/// The key of child `name` of the value at `parent`, as a form writes it.
fn child_key(parent: &str, name: &str) -> String {
    match parent {
        "" => name.to_owned(),
        parent => format!("{parent}[{name}]"),
    }
}

/// A tree deserialized at its key (`path`), which error texts name.
struct Node {
    tree: Tree,
    path: String,
}

impl Node {
    fn text(self, wanted: &str) -> Result<(String, String), FormError> {
        match self.tree {
            Tree::Spoiled(error) => Err(error),
            Tree::Text(text) => Ok((text, self.path)),
            Tree::Group(_) => {
                let message = format!("expected {wanted}, found a group of values");
                Err(FormError::at(&self.path, message))
            }
        }
    }

    fn parsed<T: std::str::FromStr>(self, wanted: &str) -> Result<(T, String), FormError> {
        let (text, path) = self.text(wanted)?;
        match text.trim().parse() {
            Ok(value) => Ok((value, path)),
            Err(_) => Err(FormError::at(&path, format!("expected {wanted}, found `{text}`"))),
        }
    }
}

macro_rules! parse_numbers {
    ($($method:ident => $visit:ident as $ty:ty, $wanted:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
                let (value, path) = self.parsed::<$ty>($wanted)?;
                visitor.$visit::<FormError>(value).map_err(|e| e.within(&path))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Node {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        match &self.tree {
            Tree::Spoiled(error) => Err(error.clone()),
            Tree::Text(_) => self.deserialize_string(visitor),
            Tree::Group(group) if group.is_list() => self.deserialize_seq(visitor),
            Tree::Group(_) => self.deserialize_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let (text, path) = self.text("true or false")?;
        let value = match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "on" => true,
            "" | "0" | "false" | "off" => false,
            _ => {
                let message = format!("expected true or false (1 or 0), found `{text}`");
                return Err(FormError::at(&path, message));
            }
        };
        visitor.visit_bool::<FormError>(value).map_err(|e| e.within(&path))
    }

    parse_numbers! {
        deserialize_i8 => visit_i8 as i8, "a whole number";
        deserialize_i16 => visit_i16 as i16, "a whole number";
        deserialize_i32 => visit_i32 as i32, "a whole number";
        deserialize_i64 => visit_i64 as i64, "a whole number";
        deserialize_u8 => visit_u8 as u8, "a whole number, not negative";
        deserialize_u16 => visit_u16 as u16, "a whole number, not negative";
        deserialize_u32 => visit_u32 as u32, "a whole number, not negative";
        deserialize_u64 => visit_u64 as u64, "a whole number, not negative";
        deserialize_f32 => visit_f32 as f32, "a number";
        deserialize_f64 => visit_f64 as f64, "a number";
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let (text, path) = self.text("one value")?;
        visitor.visit_string::<FormError>(text).map_err(|e| e.within(&path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        match &self.tree {
            Tree::Text(text) if text.is_empty() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        match self.tree {
            Tree::Spoiled(error) => Err(error),
            _ => visitor.visit_unit(),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let Node { tree, path } = self;
        let (first, second) = (child_key(&path, "0"), child_key(&path, "1"));
        let group = match tree {
            Tree::Group(group) => group,
            Tree::Spoiled(error) => return Err(error),
            Tree::Text(_) => {
                let message =
                    format!("expected a list (`{first}=...`, `{second}=...`), found one value");
                return Err(FormError::at(&path, message));
            }
        };
        if let Some((name, _)) = group.children.iter().find(|(name, _)| index_of(name).is_none()) {
            let found = child_key(&path, name);
            let message =
                format!("expected a list, keyed `{first}`, `{second}`, ..., found `{found}`");
            return Err(FormError::at(&path, message));
        }
        let items =
            Children { children: group.children.into_iter(), parent: path.clone(), next: None };
        visitor.visit_seq(items).map_err(|e| e.within(&path))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        let Node { tree, path } = self;
        match tree {
            Tree::Group(group) => {
                let fields = Children {
                    children: group.children.into_iter(),
                    parent: path.clone(),
                    next: None,
                };
                visitor.visit_map(fields).map_err(|e| e.within(&path))
            }
            Tree::Spoiled(error) => Err(error),
            Tree::Text(_) => {
                let message =
                    format!("expected a group of values (`{path}[name]=...`), found one value");
                Err(FormError::at(&path, message))
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        let (text, path) = self.text("one value")?;
        let variant: StringDeserializer<FormError> = text.into_deserializer();
        visitor.visit_enum(variant).map_err(|e| e.within(&path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str bytes byte_buf unit_struct tuple tuple_struct identifier
    }
}

/// A group's children, read as a list's items or as a map's entries, in
/// the order they came.
struct Children {
    children: std::vec::IntoIter<(String, Tree)>,
    parent: String,
    /// A map entry whose key was read and whose value is next.
    next: Option<Node>,
}

impl Children {
    fn node(&self, name: &str, tree: Tree) -> Node {
        Node { tree, path: child_key(&self.parent, name) }
    }
}

impl<'de> SeqAccess<'de> for Children {
    type Error = FormError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FormError> {
        match self.children.next() {
            None => Ok(None),
            Some((name, tree)) => seed.deserialize(self.node(&name, tree)).map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.children.len())
    }
}

impl<'de> MapAccess<'de> for Children {
    type Error = FormError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FormError> {
        let Some((name, tree)) = self.children.next() else {
            return Ok(None);
        };
        self.next = Some(self.node(&name, tree));
        let key: StringDeserializer<FormError> = name.into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, FormError> {
        let node = self.next.take().expect("serde reads a value only after its key");
        seed.deserialize(node)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.children.len())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Session {
        file_name: String,
        file_size: i64,
        content_type: Option<String>,
        with_preview: Option<bool>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct FileRef {
        uuid: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Actor {
        id: i64,
        #[serde(rename = "type")]
        kind: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Nested {
        files: Vec<FileRef>,
        created_by: Actor,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn numbers_and_booleans_are_read_from_text_as_php_writes_them() {
        // http_build_query(['file_name' => 'a b.pdf', 'file_size' => 10, 'with_preview' => true])
        let s: Session = from_urlencoded(b"file_name=a+b.pdf&file_size=10&with_preview=1").unwrap();
        let expected = Session {
            file_name: "a b.pdf".into(),
            file_size: 10,
            content_type: None,
            with_preview: Some(true),
        };
        assert_eq!(s, expected);
        for (text, value) in [("0", false), ("false", false), ("true", true), ("on", true)] {
            let body = format!("file_name=x&file_size=1&with_preview={text}");
            let s: Session = from_urlencoded(body.as_bytes()).unwrap();
            assert_eq!(s.with_preview, Some(value), "{text}");
        }
        // An empty optional value is absent; unknown fields are ignored.
        let s: Session =
            from_urlencoded(b"file_name=x&file_size=%2007&content_type=&mode=x").unwrap();
        assert_eq!((s.file_size, s.content_type), (7, None));
    }

    #[test]
    fn brackets_nest_encoded_or_not_and_lists_read_every_php_form() {
        let expected = Nested {
            files: vec![FileRef { uuid: "a".into() }, FileRef { uuid: "b".into() }],
            created_by: Actor { id: 5, kind: Some("internal".into()) },
            tags: vec!["x".into(), "y".into()],
        };
        for raw in [
            "files[0][uuid]=a&files[1][uuid]=b&created_by[id]=5&created_by[type]=internal\
             &tags[0]=x&tags[1]=y",
            "files%5B0%5D%5Buuid%5D=a&files%5B1%5D%5Buuid%5D=b&created_by%5Bid%5D=5\
             &created_by%5Btype%5D=internal&tags%5B0%5D=x&tags%5B1%5D=y",
            "files[][uuid]=a&files[][uuid]=b&created_by[id]=5&created_by[type]=internal\
             &tags[]=x&tags[]=y",
            // Indices with gaps keep the order they came in.
            "files[3][uuid]=a&files[1][uuid]=b&created_by[type]=internal&created_by[id]=5\
             &tags[9]=x&tags[]=y",
        ] {
            let nested: Nested = from_urlencoded(raw.as_bytes()).unwrap();
            assert_eq!(nested, expected, "{raw}");
        }
    }

    #[test]
    fn a_top_level_list_reads_as_http_build_query_writes_it() {
        let expected = vec![FileRef { uuid: "a".into() }, FileRef { uuid: "b".into() }];
        // http_build_query([['uuid' => 'a'], ['uuid' => 'b']])
        for raw in [
            "0%5Buuid%5D=a&1%5Buuid%5D=b",
            "0[uuid]=a&1[uuid]=b",
            "[0][uuid]=a&[1][uuid]=b",
            "[][uuid]=a&[][uuid]=b",
        ] {
            let refs: Vec<FileRef> = from_urlencoded(raw.as_bytes()).unwrap();
            assert_eq!(refs, expected, "{raw}");
        }
        let none: Vec<FileRef> = from_urlencoded(b"").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn a_value_given_again_replaces_the_first_where_it_stood() {
        let tags: Nested =
            from_urlencoded(b"files[0][uuid]=a&created_by[id]=1&tags[0]=x&tags[1]=y&tags[0]=z")
                .unwrap();
        assert_eq!(tags.tags, ["z", "y"]);
        let s: Session = from_pairs(pairs(&[
            ("file_name", "first"),
            ("file_size", "1"),
            ("file_name", "second"),
        ]))
        .unwrap();
        assert_eq!(s.file_name, "second");
    }

    #[test]
    fn keys_that_cannot_be_read_spoil_only_their_own_field() {
        // Unknown fields, however malformed, deep or clashing, are ignored.
        let s: Session = from_urlencoded(
            b"x[=1&[y=2&z[1][2][3][4][5][6][7][8]=3&w=1&w[a]=2&file_name=a&file_size=4&w[b]=3",
        )
        .unwrap();
        assert_eq!((s.file_name.as_str(), s.file_size), ("a", 4));
        // A field the target reads gets the first error its keys met.
        let error =
            from_urlencoded::<Session>(b"file_name=a&file_size=1&file_size[x]=2&file_size[=3")
                .unwrap_err()
                .to_string();
        assert!(error.starts_with("file_size[x]: `file_size` is given both"), "{error}");
    }

    #[test]
    fn a_value_with_no_name_is_dropped_as_php_drops_it() {
        let s: Session = from_urlencoded(b"=x&file_name=a&=&file_size=3").unwrap();
        assert_eq!((s.file_name.as_str(), s.file_size), ("a", 3));
    }

    #[test]
    fn errors_name_the_key_and_say_what_was_expected() {
        let error = |raw: &str| from_urlencoded::<Session>(raw.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            error("file_name=x&file_size=abc"),
            "file_size: expected a whole number, found `abc`"
        );
        assert_eq!(
            error("file_name=x&file_size=1&with_preview=maybe"),
            "with_preview: expected true or false (1 or 0), found `maybe`"
        );
        assert_eq!(error("file_size=1"), "missing field `file_name`");
        assert_eq!(
            error("file_name[a]=x&file_size=1"),
            "file_name: expected one value, found a group of values"
        );
        let malformed = error("file_name[=x&file_size=1");
        assert!(malformed.starts_with("file_name[: the key is malformed"), "{malformed}");
        assert!(error("file_name[a]b=x").contains("malformed"));
        assert_eq!(error("=x"), "missing field `file_name`");
        let conflict = error("file_name=x&file_name[a]=y&file_size=1");
        assert_eq!(
            conflict,
            "file_name[a]: `file_name` is given both as one value and as a group of values"
        );
        let deep = error("file_name[1][2][3][4][5][6][7][8]=x");
        assert!(deep.contains("deeper than 8"), "{deep}");

        let nested = |raw: &str| from_urlencoded::<Nested>(raw.as_bytes()).unwrap_err().to_string();
        assert_eq!(nested("files[0][name]=a&created_by[id]=1"), "files[0]: missing field `uuid`");
        assert_eq!(
            nested("files[0][uuid]=a&created_by[id]=x"),
            "created_by[id]: expected a whole number, found `x`"
        );
        assert_eq!(
            nested("files[a][uuid]=a&created_by[id]=1"),
            "files: expected a list, keyed `files[0]`, `files[1]`, ..., found `files[a]`"
        );
        assert_eq!(
            nested("files=a&created_by[id]=1"),
            "files: expected a list (`files[0]=...`, `files[1]=...`), found one value"
        );
        assert_eq!(
            nested("files[0][uuid]=a&created_by=5"),
            "created_by: expected a group of values (`created_by[name]=...`), found one value"
        );
        let top = from_urlencoded::<Vec<FileRef>>(b"uuid=a").unwrap_err().to_string();
        assert_eq!(top, "expected a list, keyed `0`, `1`, ..., found `uuid`");
    }

    #[test]
    fn keys_split_into_their_brackets() {
        let name = |n: &str| Step::Name(n.to_owned());
        assert_eq!(key_path("a"), Ok(vec![name("a")]));
        assert_eq!(key_path("a[b][]"), Ok(vec![name("a"), name("b"), Step::Append]));
        assert_eq!(key_path("[0][uuid]"), Ok(vec![name("0"), name("uuid")]));
        assert_eq!(key_path("a]"), Ok(vec![name("a]")]));
        assert!(key_path("a[b[c]]").is_err());
        assert!(key_path("").is_err());
        assert_eq!(index_of("0"), Some(0));
        assert_eq!(index_of("17"), Some(17));
        assert_eq!(index_of("017"), None);
        assert_eq!(index_of("-1"), None);
        assert_eq!(index_of(""), None);
    }
}
