//! A tenant's carrier rules: parsed and checked from the admin API's JSON, stored through
//! `domain::attempts`, rendered back.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{Channel, Outcome, Rule};
use crate::domain::attempts::{self as da, StoredRule};
use crate::domain::{DomainError, DomainResult, TenantId};

/// Rules per tenant at most.
pub const MAX_RULES: usize = 1000;
/// Outcomes per rule at most.
pub const MAX_OUTCOMES: usize = 100;

/// Parses `[{"match", "channel"?, "outcomes"}]`; the error names the field (`[i].match`).
pub fn parse(v: &Value) -> DomainResult<Vec<Rule>> {
    let list = v
        .as_array()
        .ok_or_else(|| DomainError::validation("rules", "must be an array of {match, channel, outcomes}"))?;
    if list.len() > MAX_RULES {
        return Err(DomainError::validation("rules", format!("at most {MAX_RULES} rules")));
    }
    let names = || Outcome::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ");
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let obj = r
                .as_object()
                .ok_or_else(|| DomainError::validation(format!("[{i}]"), "must be an object"))?;
            if let Some(k) = obj.keys().find(|k| !["match", "channel", "outcomes"].contains(&k.as_str())) {
                return Err(DomainError::validation(format!("[{i}].{k}"), "unknown field"));
            }
            let pattern = match obj.get("match") {
                Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 256 => s.trim().to_string(),
                _ => {
                    return Err(DomainError::validation(
                        format!("[{i}].match"),
                        "must be a non-empty glob of at most 256 characters",
                    ))
                }
            };
            let channel = match obj.get("channel") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s == "*" => None,
                Some(Value::String(s)) if matches!(s.as_str(), "voice" | "sms" | "email") => Channel::parse(s),
                _ => return Err(DomainError::validation(format!("[{i}].channel"), "must be voice, sms, email or *")),
            };
            let outcomes = match obj.get("outcomes") {
                Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_OUTCOMES => a
                    .iter()
                    .enumerate()
                    .map(|(j, o)| {
                        o.as_str()
                            .and_then(Outcome::parse)
                            .ok_or_else(|| DomainError::validation(format!("[{i}].outcomes[{j}]"), format!("must be one of {}", names())))
                    })
                    .collect::<DomainResult<Vec<_>>>()?,
                _ => {
                    return Err(DomainError::validation(
                        format!("[{i}].outcomes"),
                        format!("must be a list of 1 to {MAX_OUTCOMES} outcomes"),
                    ))
                }
            };
            Ok(Rule {
                pattern,
                channel,
                outcomes,
            })
        })
        .collect()
}

/// The rules as the admin API shows them.
pub fn render(rules: &[Rule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                json!({"match": r.pattern, "channel": r.channel.map(Channel::as_str).unwrap_or("*"),
                       "outcomes": r.outcomes.iter().map(|o| o.as_str()).collect::<Vec<_>>()})
            })
            .collect(),
    )
}

/// The tenant's rules.
pub async fn load(db: &sqlx::PgPool, tenant: TenantId) -> DomainResult<Vec<Rule>> {
    Ok(crate::engine::attempts::parse_stored(da::rules(db, tenant).await?))
}

/// Replaces the tenant's rules.
pub async fn store(db: &sqlx::PgPool, tenant: TenantId, rules: &[Rule], now: DateTime<Utc>) -> DomainResult<()> {
    let stored: Vec<StoredRule> = rules
        .iter()
        .map(|r| StoredRule {
            pattern: r.pattern.clone(),
            channel: r.channel.map(|c| c.as_str().to_string()),
            outcomes: r.outcomes.iter().map(|o| o.as_str().to_string()).collect(),
        })
        .collect();
    da::replace_rules(db, tenant, &stored, now).await
}
