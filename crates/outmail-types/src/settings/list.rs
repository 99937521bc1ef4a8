//! List queries and pages: the raw `?name=&transport=&page=&per_page=`, its parsed form, a page.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, FieldErrors};
use crate::profile::{ProfileSpec, TransportKind};
use crate::text::HeaderText;

use super::optional;

/// The raw `?name=&transport=&page=&per_page=` of a profile list, as strings so that a bad value
/// becomes a field error rather than a generic 400.
///
/// As OpenAPI query parameters (`IntoParams`) they are documented with the types they must
/// parse as; a value that does not is a 422 with a field error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListParams {
    /// Keep profiles whose name contains this text (case-insensitive).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(max_length = 998, example = "relay"))]
    pub name: Option<String>,
    /// Keep profiles with this transport.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<TransportKind>))]
    pub transport: Option<String>,
    /// 1-based page number; default 1.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        param(value_type = Option<u32>, minimum = 1, default = 1)
    )]
    pub page: Option<String>,
    /// Items per page, 1–200; default 50.
    // The number is `ListQuery::MAX_PER_PAGE`; utoipa takes only a literal here, so a test
    // checks the two agree.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        param(value_type = Option<u32>, minimum = 1, maximum = 200, default = 50)
    )]
    pub per_page: Option<String>,
}

/// A valid list query: `name` is a case-insensitive substring filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub name: Option<HeaderText>,
    pub transport: Option<TransportKind>,
    /// 1-based.
    pub page: u32,
    /// 1 to [`ListQuery::MAX_PER_PAGE`].
    pub per_page: u32,
}

impl ListQuery {
    pub const DEFAULT_PER_PAGE: u32 = 50;
    /// The API's one page limit: the most items any list answers at once. A larger `per_page`
    /// is refused; the delivery log cuts a larger `limit` to it. `outmail-store` holds the same
    /// number as its backstop (`outmail_store::MAX_PER_PAGE`; the server checks they agree), and
    /// the UI pages through with it to read every profile (`api::all_profiles`).
    pub const MAX_PER_PAGE: u32 = 200;

    /// How many items to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }

    /// The query string (without `?`) for the browser client.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name={}", percent_encode(name.as_str())));
        }
        if let Some(t) = self.transport {
            parts.push(format!("transport={t}"));
        }
        parts.push(format!("page={}", self.page));
        parts.push(format!("per_page={}", self.per_page));
        parts.join("&")
    }

    /// Whether a profile passes the `name` and `transport` filters.
    pub fn matches(&self, spec: &ProfileSpec) -> bool {
        let name_ok = self.name.as_ref().is_none_or(|n| {
            spec.name
                .as_str()
                .to_lowercase()
                .contains(&n.as_str().to_lowercase())
        });
        let transport_ok = self.transport.is_none_or(|t| t == spec.transport.kind());
        name_ok && transport_ok
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            name: None,
            transport: None,
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, FieldError> {
    let message = format!("must be a whole number from {min} to {max}");
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| FieldError::new("not_a_number", message.clone()))?;
    u32::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or(FieldError::new("out_of_range", message))
}

impl ListParams {
    pub fn parse(&self) -> Result<ListQuery, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = optional(&mut errors, "name", &self.name, HeaderText::parse);
        let transport = optional(&mut errors, "transport", &self.transport, |s| {
            TransportKind::parse(s).ok_or(FieldError::new(
                "invalid_choice",
                "choose smtp, local, ews or graph",
            ))
        });
        let page = optional(&mut errors, "page", &self.page, |s| {
            parse_count(s, 1, u32::MAX / ListQuery::MAX_PER_PAGE)
        });
        let per_page = optional(&mut errors, "per_page", &self.per_page, |s| {
            parse_count(s, 1, ListQuery::MAX_PER_PAGE)
        });
        match (name, transport, page, per_page) {
            (Some(name), Some(transport), Some(page), Some(per_page)) if errors.is_empty() => {
                Ok(ListQuery {
                    name,
                    transport,
                    page: page.unwrap_or(1),
                    per_page: per_page.unwrap_or(ListQuery::DEFAULT_PER_PAGE),
                })
            }
            _ => Err(errors),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items over all pages.
    pub total: u64,
    /// 1-based.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 1))]
    pub page: u32,
    // At most `ListQuery::MAX_PER_PAGE` (a literal here: see the test).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 200, example = 50))]
    pub per_page: u32,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: u64, query: &ListQuery) -> Self {
        Self {
            items,
            total,
            page: query.page,
            per_page: query.per_page,
        }
    }

    /// The number of pages (at least 1, so an empty list still has a page to show).
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page.max(1))).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ProfileDraft, examples};
    use serde_json::json;

    fn params(v: serde_json::Value) -> ListParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn list_params_default_to_page_1_of_50() {
        let q = params(json!({})).parse().unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(q.offset(), 0);
        assert_eq!(q.to_query_string(), "page=1&per_page=50");
    }

    #[test]
    fn list_params_are_checked_field_by_field() {
        let q =
            params(json!({"name": "Relay 1", "transport": "SMTP", "page": "3", "per_page": "200"}))
                .parse()
                .unwrap();
        assert_eq!(q.transport, Some(TransportKind::Smtp));
        assert_eq!(q.offset(), 400);
        assert_eq!(
            q.to_query_string(),
            "name=Relay%201&transport=smtp&page=3&per_page=200"
        );
        let e = params(json!({"transport": "fax", "page": "0", "per_page": "201"}))
            .parse()
            .unwrap_err();
        assert!(e.has("transport", "invalid_choice"));
        assert!(e.has("page", "out_of_range"));
        assert!(e.has("per_page", "out_of_range"));
        let e = params(json!({"per_page": "ten", "name": "a\nb"}))
            .parse()
            .unwrap_err();
        assert!(e.has("per_page", "not_a_number"));
        assert!(e.has("name", "control_character"));
    }

    #[test]
    fn a_list_query_filters_by_name_and_transport() {
        let spec = serde_json::from_str::<ProfileDraft>(examples::SMTP_BASIC)
            .unwrap()
            .validate()
            .unwrap();
        let q = |v| params(v).parse().unwrap();
        assert!(q(json!({"name": "office"})).matches(&spec));
        assert!(q(json!({"transport": "smtp"})).matches(&spec));
        assert!(!q(json!({"transport": "graph"})).matches(&spec));
        assert!(!q(json!({"name": "graph"})).matches(&spec));
    }

    /// utoipa takes only literals for `maximum`: the documented limit must be the one in code.
    #[cfg(feature = "openapi")]
    #[test]
    fn the_documented_page_limit_is_max_per_page() {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::{IntoParams, PartialSchema};

        let max = json!(ListQuery::MAX_PER_PAGE);
        let params = ListParams::into_params(|| Some(ParameterIn::Query));
        let per_page = params
            .iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .find(|p| p["name"] == "per_page")
            .unwrap();
        assert_eq!(per_page["schema"]["maximum"], max);
        assert!(
            per_page["description"]
                .as_str()
                .unwrap()
                .contains(&format!("1–{}", ListQuery::MAX_PER_PAGE))
        );
        let page = serde_json::to_value(Page::<u8>::schema()).unwrap();
        assert_eq!(page["properties"]["per_page"]["maximum"], max);
    }

    #[test]
    fn a_page_counts_its_pages() {
        let q = ListQuery {
            per_page: 50,
            ..ListQuery::default()
        };
        assert_eq!(Page::<u8>::new(vec![], 0, &q).page_count(), 1);
        assert_eq!(Page::<u8>::new(vec![], 50, &q).page_count(), 1);
        assert_eq!(Page::<u8>::new(vec![], 51, &q).page_count(), 2);
        assert_eq!(
            serde_json::to_value(Page::new(vec![1, 2], 2, &q)).unwrap(),
            json!({"items": [1, 2], "total": 2, "page": 1, "per_page": 50})
        );
    }
}
