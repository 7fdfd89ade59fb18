//! The vendor's bulk user file: the tenant's vocabulary (roles, teams, locations, chat
//! limit), the scheme check of a file, and how one row becomes a domain
//! [`UserChange`] and an agent's attrs. No I/O except loading the vocabulary through the
//! domain.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::domain::bulk_users::UserChange;
use crate::domain::directory::{self, valid_email};
use crate::domain::tenants::Tenant;
use crate::domain::DomainResult;
use crate::state::AppState;

/// The vendor's built-in roles.
pub const BUILTIN_ROLES: &[&str] = &[
    "Admin",
    "Manager",
    "Agent",
    "Developer",
    "Manager Admin",
    "Manager Team",
    "Manager Data",
];
/// Columns, numbered from 1 as in the error logs.
const COLUMNS: &[&str] = &[
    "email",
    "new_email",
    "agent_number",
    "first_name",
    "last_name",
    "status",
    "location",
    "max_chat_limit",
    "max_chat_limit_enabled",
    "roles",
    "teams",
];

fn column(name: &str) -> Value {
    COLUMNS.iter().position(|c| *c == name).map(|i| json!(i + 1)).unwrap_or(Value::Null)
}

/// Tenant vocabulary: roles, teams, locations, chat limit.
pub struct Vocabulary {
    pub roles: Vec<String>,
    pub teams: Vec<String>,
    pub locations: Vec<String>,
    pub max_chat: i64,
}

impl Vocabulary {
    /// The tenant's vocabulary: the built-in roles, its custom roles, teams and locations,
    /// and its `apps_max_chat_limit` setting (default 10).
    pub async fn load(st: &AppState, t: &Tenant) -> DomainResult<Vocabulary> {
        let items = directory::list_org_items(&st.db, t.id).await?;
        let of = |k: &str| items.iter().filter(|i| i.kind == k).map(|i| i.name.clone()).collect::<Vec<_>>();
        let mut roles: Vec<String> = BUILTIN_ROLES.iter().map(|s| s.to_string()).collect();
        for r in of("role") {
            if !roles.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
                roles.push(r);
            }
        }
        let max_chat = crate::dialects::apps::tenant::AppsSettings::of(t)
            .apps_max_chat_limit
            .filter(|v| *v >= 1)
            .map_or(10, i64::from);
        Ok(Vocabulary {
            roles,
            teams: of("team"),
            locations: of("location"),
            max_chat,
        })
    }

    fn canonical<'a>(list: &'a [String], name: &str) -> Option<&'a String> {
        list.iter().find(|x| x.eq_ignore_ascii_case(name.trim()))
    }
}

/// A scalar as text: null → None, strings as they are, numbers and bools as text.
pub fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1".into() } else { "0".into() }),
        _ => None,
    }
}

pub fn scheme_error(out: &mut Vec<Value>, row: Option<usize>, col: &str, message: String) {
    out.push(json!({"message": message, "column": if col.is_empty() { Value::Null } else { column(col) }, "row": row}));
}

/// Validates a parsed file; returns the rows and the scheme errors.
pub fn validate(file: &[u8], vocab: &Vocabulary) -> (Vec<Map<String, Value>>, Vec<Value>) {
    let mut errors = Vec::new();
    let parsed: Value = match serde_json::from_slice(file) {
        Ok(v) => v,
        Err(e) => {
            scheme_error(&mut errors, None, "", format!("File is not valid JSON: {e}"));
            return (Vec::new(), errors);
        }
    };
    let Value::Array(items) = parsed else {
        scheme_error(&mut errors, None, "", "File must be a JSON array of users".into());
        return (Vec::new(), errors);
    };
    let mut rows = Vec::with_capacity(items.len());
    let mut emails = HashSet::new();
    let mut new_emails = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let r = i + 1;
        let Value::Object(m) = item else {
            scheme_error(&mut errors, Some(r), "", "Row must be a JSON object".into());
            rows.push(Map::new());
            continue;
        };
        check_row(&m, r, vocab, &mut emails, &mut new_emails, &mut errors);
        rows.push(m);
    }
    (rows, errors)
}

/// The scheme errors of row `r` (from 1); `emails` and `new_emails` collect the file's
/// addresses so far (lowercase), for the duplicate checks.
fn check_row(
    m: &Map<String, Value>,
    r: usize,
    vocab: &Vocabulary,
    emails: &mut HashSet<String>,
    new_emails: &mut HashSet<String>,
    errors: &mut Vec<Value>,
) {
    match scalar(m.get("email")) {
        Some(e) if valid_email(&e) => {
            if !emails.insert(e.to_ascii_lowercase()) {
                scheme_error(errors, Some(r), "email", format!("email {e} is duplicated in the file"));
            }
        }
        Some(e) if !e.is_empty() => scheme_error(errors, Some(r), "email", format!("email {e} is not a valid email")),
        _ => scheme_error(errors, Some(r), "email", "email is required".into()),
    }
    if let Some(e) = scalar(m.get("new_email")).filter(|s| !s.is_empty()) {
        if !valid_email(&e) {
            scheme_error(errors, Some(r), "new_email", format!("new_email {e} is not a valid email"));
        } else if !new_emails.insert(e.to_ascii_lowercase()) {
            scheme_error(errors, Some(r), "new_email", format!("new_email {e} is duplicated in the file"));
        }
    }
    if let Some(v) = m.get("agent_number") {
        if !matches!(v, Value::Null | Value::String(_) | Value::Number(_)) {
            scheme_error(errors, Some(r), "agent_number", "agent_number must be a string".into());
        }
    }
    for f in ["first_name", "last_name"] {
        if scalar(m.get(f)).is_none_or(|s| s.is_empty()) {
            scheme_error(errors, Some(r), f, format!("{f} must be a non-empty string"));
        }
    }
    if let Some(s) = scalar(m.get("status")) {
        if !matches!(s.as_str(), "" | "Active" | "Inactive") {
            scheme_error(
                errors,
                Some(r),
                "status",
                format!("status must be \"Active\", \"Inactive\" or empty, not \"{s}\""),
            );
        }
    }
    if let Some(l) = scalar(m.get("location")) {
        if !l.is_empty() && !l.eq_ignore_ascii_case("null") && Vocabulary::canonical(&vocab.locations, &l).is_none() {
            scheme_error(errors, Some(r), "location", format!("location \"{l}\" does not exist"));
        }
    }
    if let Some(s) = scalar(m.get("max_chat_limit")).filter(|s| !s.is_empty()) {
        if !s.parse::<i64>().is_ok_and(|n| (1..=vocab.max_chat).contains(&n)) {
            scheme_error(
                errors,
                Some(r),
                "max_chat_limit",
                format!("max_chat_limit must be 1 to {} or empty, not \"{s}\"", vocab.max_chat),
            );
        }
    }
    if let Some(s) = scalar(m.get("max_chat_limit_enabled")) {
        if !matches!(s.as_str(), "" | "0" | "1") {
            scheme_error(
                errors,
                Some(r),
                "max_chat_limit_enabled",
                format!("max_chat_limit_enabled must be 0, 1 or empty, not \"{s}\""),
            );
        }
    }
    for (field, known) in [("roles", &vocab.roles), ("teams", &vocab.teams)] {
        check_entries(m.get(field), field, known, r, errors);
    }
}

/// The scheme errors of a row's `roles` or `teams`: a list of `{name, value}` with known
/// names and values 0, 1 or empty.
fn check_entries(v: Option<&Value>, field: &str, known: &[String], r: usize, errors: &mut Vec<Value>) {
    let list = match v {
        None | Some(Value::Null) => return,
        Some(Value::Array(list)) => list,
        Some(_) => return scheme_error(errors, Some(r), field, format!("{field} must be a list of {{name, value}}")),
    };
    for entry in list {
        let name = scalar(entry.get("name")).unwrap_or_default();
        if name.is_empty() {
            scheme_error(errors, Some(r), field, format!("{field} entries need a name"));
            continue;
        }
        if Vocabulary::canonical(known, &name).is_none() {
            let what = if field == "roles" { "role" } else { "team" };
            scheme_error(errors, Some(r), field, format!("{what} \"{name}\" does not exist"));
        }
        let value = scalar(entry.get("value")).unwrap_or_default();
        if !matches!(value.as_str(), "" | "0" | "1") {
            scheme_error(errors, Some(r), field, format!("{field} \"{name}\" value must be 0, 1 or empty"));
        }
    }
}

fn list_names(attrs: &Value, key: &str) -> Vec<String> {
    attrs
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Merges one row's optional fields into an agent's attrs.
pub fn merge_attrs(mut attrs: Value, row: &Map<String, Value>, vocab: &Vocabulary) -> Value {
    if !attrs.is_object() {
        attrs = json!({});
    }
    if let Some(s) = scalar(row.get("status")).filter(|s| !s.is_empty()) {
        attrs["user_status"] = json!(s);
    }
    match scalar(row.get("location")) {
        Some(l) if l.eq_ignore_ascii_case("null") => attrs["location"] = Value::Null,
        Some(l) if !l.is_empty() => {
            attrs["location"] = json!(Vocabulary::canonical(&vocab.locations, &l).cloned().unwrap_or(l));
        }
        _ => {
            if row.get("location").is_some_and(Value::is_null) {
                attrs["location"] = Value::Null;
            }
        }
    }
    if let Some(s) = scalar(row.get("max_chat_limit")).filter(|s| !s.is_empty()) {
        if let Ok(n) = s.parse::<i64>() {
            attrs["max_chat_limit"] = json!(n);
        }
    }
    if let Some(s) = scalar(row.get("max_chat_limit_enabled")).filter(|s| !s.is_empty()) {
        attrs["max_chat_limit_enabled"] = json!(s == "1");
    }
    for (field, known) in [("roles", &vocab.roles), ("teams", &vocab.teams)] {
        let Some(Value::Array(list)) = row.get(field) else { continue };
        let mut names = list_names(&attrs, field);
        for entry in list {
            let name = scalar(entry.get("name")).unwrap_or_default();
            let Some(canon) = Vocabulary::canonical(known, &name) else {
                continue;
            };
            match scalar(entry.get("value")).as_deref() {
                Some("1") if !names.iter().any(|n| n == canon) => names.push(canon.clone()),
                Some("0") => names.retain(|n| n != canon),
                _ => {}
            }
        }
        attrs[field] = json!(names);
    }
    attrs
}

/// An entry of `update_errors`.
pub fn update_error(out: &mut Vec<Value>, row: usize, col: &str, message: String, kind: &str) {
    out.push(json!({"message": message, "column": if col.is_empty() { Value::Null } else { column(col) }, "row": row, "error_type": kind}));
}

/// The domain change of one row.
pub fn user_change(row: &Map<String, Value>) -> UserChange {
    UserChange {
        email: scalar(row.get("email")).unwrap_or_default(),
        new_email: scalar(row.get("new_email")).filter(|s| !s.is_empty()),
        first_name: scalar(row.get("first_name")).unwrap_or_default(),
        last_name: scalar(row.get("last_name")).unwrap_or_default(),
        agent_number: scalar(row.get("agent_number")).filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            roles: BUILTIN_ROLES.iter().map(|s| s.to_string()).collect(),
            teams: vec!["Blue".into()],
            locations: vec!["Mexico".into()],
            max_chat: 5,
        }
    }

    #[test]
    fn validates_rows() {
        let file = serde_json::to_vec(&json!([
            {"email": "a@x.com", "first_name": "A", "last_name": "B", "location": "mexico", "roles": [{"name": "agent", "value": 1}]},
            {"email": "a@x.com", "first_name": "", "last_name": "B", "status": "Gone", "max_chat_limit": "9",
             "max_chat_limit_enabled": "2", "teams": [{"name": "Red", "value": 1}], "location": "Mars"},
        ]))
        .unwrap();
        let (rows, errs) = validate(&file, &vocab());
        assert_eq!(rows.len(), 2);
        let msgs: Vec<String> = errs.iter().map(|e| e["message"].as_str().unwrap().to_string()).collect();
        assert!(errs.iter().all(|e| e["row"] == 2), "{msgs:?}");
        assert_eq!(errs.len(), 7, "{msgs:?}");
        let (_, errs) = validate(b"{}", &vocab());
        assert_eq!(errs.len(), 1);
    }
}
