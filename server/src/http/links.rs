//! HAL links as Kommo writes them (`{"href": ...}`), and the page links
//! every list answers with.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Href {
    pub href: String,
}

/// The links of a list: `self`, and where they apply `next`, `prev` and
/// `first` (Kommo's PHP library follows `next` and `prev` with
/// `nextPage()` / `prevPage()`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ListLinks {
    #[serde(rename = "self")]
    pub self_: Href,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Href>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Href>,
}

impl ListLinks {
    /// The links of page `page` of a list, `link` making each page's.
    pub fn paged(page: i64, more: bool, link: impl Fn(i64) -> Href) -> ListLinks {
        ListLinks {
            self_: link(page),
            next: more.then(|| link(page + 1)),
            prev: (page > 1).then(|| link(page - 1)),
            first: (page > 1).then(|| link(1)),
        }
    }
}
