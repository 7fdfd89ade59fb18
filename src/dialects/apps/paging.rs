//! Paging of the Apps vendor's list endpoints: `page` (from 1) and `per_page` query
//! parameters, and the `Link` (RFC 8288: first/prev/next/last), `Total` and `Per-Page`
//! response headers. Shared with the outbound-dialer and Manager read routes.

use axum::http::{HeaderMap, HeaderValue, Uri};
use serde::Deserialize;

use chrono::{DateTime, Utc};

use super::error::AppsError;
use super::wire::parse_time;
use crate::domain::listing::{ListFilter, SortColumn};

/// Raw query parameters (strings, so bad values get our own 400 instead of axum's).
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// A resolved page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

impl PageParams {
    /// Whether the client asked for paging at all.
    pub fn given(&self) -> bool {
        self.page.is_some() || self.per_page.is_some()
    }

    /// Validates: page ≥ 1 (default 1), 1 ≤ per_page ≤ max (default `default`).
    pub fn resolve(&self, default: i64, max: i64) -> Result<Page, AppsError> {
        let page = match self.page.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| AppsError::bad_request("page must be a positive integer"))?,
        };
        let per_page = match self.per_page.as_deref().map(str::trim) {
            None | Some("") => default,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1 && *p <= max)
                .ok_or_else(|| AppsError::bad_request(format!("per_page must be an integer between 1 and {max}")))?,
        };
        Ok(Page { page, per_page })
    }
}

/// `Link`, `Total` and `Per-Page` headers for `page` of `total` rows at `uri`.
pub fn headers(uri: &Uri, page: Page, total: i64) -> HeaderMap {
    let mut h = HeaderMap::new();
    let last = ((total + page.per_page - 1) / page.per_page).max(1);
    let path = uri.path();
    let others: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("page=") && !kv.starts_with("per_page=") && !kv.starts_with("per="))
        .map(str::to_string)
        .collect();
    let link = |p: i64, rel: &str| {
        let mut q = others.clone();
        q.push(format!("page={p}"));
        q.push(format!("per_page={}", page.per_page));
        format!("<{path}?{}>; rel=\"{rel}\"", q.join("&"))
    };
    let mut links = vec![link(1, "first")];
    if page.page > 1 {
        links.push(link((page.page - 1).min(last), "prev"));
    }
    if page.page < last {
        links.push(link(page.page + 1, "next"));
    }
    links.push(link(last, "last"));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        h.insert("link", v);
    }
    h.insert("total", HeaderValue::from(total));
    h.insert("per-page", HeaderValue::from(page.per_page));
    h
}

/// [`headers`] with absolute `Link` targets (`<https://acme.example.com/…?page=2…>`), as the
/// vendor's Rails pagination writes them, so clients that fetch a `Link` URL as is work.
/// `base` is the request's scheme and authority (`https://acme.example.com`).
pub fn headers_absolute(base: &str, uri: &Uri, page: Page, total: i64) -> HeaderMap {
    let mut h = headers(uri, page, total);
    let relative = h.get("link").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(link) = relative {
        let absolute = link.replace("</", &format!("<{}/", base.trim_end_matches('/')));
        if let Ok(v) = HeaderValue::from_str(&absolute) {
            h.insert("link", v);
        }
    }
    h
}

/// The Manager API's list query: paging (`page`, `per_page` or its alias `per`; `per_page`
/// wins when both are given), `sort_column` (`id`, `created_at`, `updated_at`) with
/// `sort_direction` (`ASC`/`DESC`, any case), and the windows `created_at[from]`,
/// `created_at[to]`, `updated_at[from]`, `updated_at[to]` (ISO 8601, inclusive; a `+` of an
/// offset that arrived as a space is read as `+`).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub per: Option<String>,
    pub sort_column: Option<String>,
    pub sort_direction: Option<String>,
    #[serde(rename = "created_at[from]")]
    pub created_from: Option<String>,
    #[serde(rename = "created_at[to]")]
    pub created_to: Option<String>,
    #[serde(rename = "updated_at[from]")]
    pub updated_from: Option<String>,
    #[serde(rename = "updated_at[to]")]
    pub updated_to: Option<String>,
}

impl ListParams {
    /// The paging part.
    pub fn paging(&self) -> PageParams {
        PageParams {
            page: self.page.clone(),
            per_page: self.per_page.clone().or_else(|| self.per.clone()),
        }
    }

    /// The order and windows; `default` is the endpoint's order when none is asked for
    /// (a `sort_column` without `sort_direction` keeps the default's direction).
    pub fn filter(&self, default: ListFilter) -> Result<ListFilter, AppsError> {
        let mut f = default;
        if let Some(c) = self.sort_column.as_deref().filter(|c| !c.trim().is_empty()) {
            f.sort = SortColumn::parse(c).ok_or_else(|| AppsError::bad_request("sort_column must be one of id, created_at, updated_at"))?;
        }
        if let Some(d) = self.sort_direction.as_deref().filter(|d| !d.trim().is_empty()) {
            f.descending = match d.trim().to_ascii_uppercase().as_str() {
                "ASC" => false,
                "DESC" => true,
                _ => return Err(AppsError::bad_request("sort_direction must be ASC or DESC")),
            };
        }
        let time = |name: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, AppsError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => parse_time(s)
                    .or_else(|| s.rsplit_once(' ').and_then(|(a, b)| parse_time(&format!("{a}+{b}"))))
                    .map(Some)
                    .ok_or_else(|| AppsError::bad_request(format!("{name} must be an ISO 8601 time"))),
            }
        };
        f.created_from = time("created_at[from]", &self.created_from)?;
        f.created_to = time("created_at[to]", &self.created_to)?;
        f.updated_from = time("updated_at[from]", &self.updated_from)?;
        f.updated_to = time("updated_at[to]", &self.updated_to)?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_links() {
        let p = PageParams {
            page: Some("2".into()),
            per_page: Some("10".into()),
        }
        .resolve(25, 100)
        .unwrap();
        assert_eq!(p, Page { page: 2, per_page: 10 });
        assert_eq!(p.offset(), 10);
        assert!(PageParams {
            page: Some("0".into()),
            per_page: None
        }
        .resolve(25, 100)
        .is_err());
        assert!(PageParams {
            page: None,
            per_page: Some("1000".into())
        }
        .resolve(25, 100)
        .is_err());
        let uri: Uri = "/x/y?page=2&per_page=10&q=1".parse().unwrap();
        let h = headers(&uri, p, 35);
        let link = h["link"].to_str().unwrap();
        assert!(link.contains("</x/y?q=1&page=3&per_page=10>; rel=\"next\""), "{link}");
        assert!(link.contains("rel=\"prev\"") && link.contains("page=4&per_page=10>; rel=\"last\""));
        assert_eq!(h["total"], "35");
        assert_eq!(h["per-page"], "10");
    }

    #[test]
    fn absolute_links() {
        let p = Page { page: 1, per_page: 2 };
        let uri: Uri = "/m/calls?per_page=2".parse().unwrap();
        let h = headers_absolute("https://acme.example.com", &uri, p, 5);
        let link = h["link"].to_str().unwrap();
        assert!(
            link.contains("<https://acme.example.com/m/calls?page=2&per_page=2>; rel=\"next\""),
            "{link}"
        );
        assert!(!link.contains("</"), "{link}");
    }
}
