//! Sorting and time-window filters of list reads (the Manager API's `sort_column`,
//! `sort_direction`, `created_at[from]`/`[to]`, `updated_at[from]`/`[to]`), applied to
//! any table with `seq`, `created_at` and `updated_at` columns.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

/// The column a list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// The integer id (`seq`): creation order.
    Id,
    CreatedAt,
    UpdatedAt,
}

impl SortColumn {
    /// Parses `id`, `created_at` or `updated_at` (any case).
    pub fn parse(s: &str) -> Option<SortColumn> {
        match s.trim().to_ascii_lowercase().as_str() {
            "id" => Some(SortColumn::Id),
            "created_at" => Some(SortColumn::CreatedAt),
            "updated_at" => Some(SortColumn::UpdatedAt),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            SortColumn::Id => "seq",
            SortColumn::CreatedAt => "created_at",
            SortColumn::UpdatedAt => "updated_at",
        }
    }
}

/// Order and time windows of a list read (bounds inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    pub sort: SortColumn,
    pub descending: bool,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
}

impl ListFilter {
    /// All rows in `sort` order.
    pub fn new(sort: SortColumn, descending: bool) -> ListFilter {
        ListFilter {
            sort,
            descending,
            created_from: None,
            created_to: None,
            updated_from: None,
            updated_to: None,
        }
    }

    /// Appends ` AND …` conditions for the time windows.
    pub fn push_conditions(&self, qb: &mut QueryBuilder<Postgres>) {
        for (col, op, v) in [
            ("created_at", ">=", self.created_from),
            ("created_at", "<=", self.created_to),
            ("updated_at", ">=", self.updated_from),
            ("updated_at", "<=", self.updated_to),
        ] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} {op} ")).push_bind(v);
            }
        }
    }

    /// Appends ` ORDER BY …` (ties broken by `seq` in the same direction, so pages are stable).
    pub fn push_order(&self, qb: &mut QueryBuilder<Postgres>) {
        let dir = if self.descending { "DESC" } else { "ASC" };
        qb.push(format!(" ORDER BY {} {dir}", self.sort.column()));
        if self.sort != SortColumn::Id {
            qb.push(format!(", seq {dir}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_conditions_and_order() {
        let mut f = ListFilter::new(SortColumn::CreatedAt, false);
        f.created_from = Some(Utc::now());
        let mut qb = QueryBuilder::<Postgres>::new("SELECT 1 FROM t WHERE tenant_id = 1");
        f.push_conditions(&mut qb);
        f.push_order(&mut qb);
        assert_eq!(
            qb.sql().as_str(),
            "SELECT 1 FROM t WHERE tenant_id = 1 AND created_at >= $1 ORDER BY created_at ASC, seq ASC"
        );
        assert_eq!(SortColumn::parse("UPDATED_AT"), Some(SortColumn::UpdatedAt));
        assert_eq!(SortColumn::parse("name"), None);
    }
}
