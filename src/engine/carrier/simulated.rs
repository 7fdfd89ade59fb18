//! The simulated carrier: every outcome is a pure function of the channel, the
//! destination and the attempt number (the README's table), after the tenant's own rules.
//!
//! North-American test numbers `+1 NPA 555 000N` (any area code NPA):
//!
//! | N | voice | SMS |
//! | --- | --- | --- |
//! | 1 | `no_answer` (rings for the dial timeout) | `undelivered` |
//! | 2 | `busy` | `carrier_error` |
//! | 3 | `voicemail` | `delivered` |
//! | 4 | `invalid` (permanent) | `invalid` (permanent) |
//! | 5 | `no_answer` on attempt 1, then `answered` | `undelivered` on attempt 1, then `delivered` |
//! | 6 | `unreachable` | `carrier_error` |
//! | 7 | `opt_out` (answered, then opted out) | `opt_out` (delivered, then a "STOP" reply) |
//! | 8 | `abandoned` (answered, hung up at once) | `delivered` |
//!
//! Every other number is `answered` (voice) or `delivered` (SMS). Emails: a local part
//! starting with `bounce` is `bounced` (permanent), one starting with `defer` is
//! `undelivered` on attempt 1, then `delivered`; everything else is `delivered`.
//!
//! Tenant rules ([`Rule`]) are checked first, in order: the first whose glob (`*` any
//! run of characters, `?` one character) matches the destination on the attempt's channel
//! decides; the n-th attempt takes the n-th outcome, the last one repeats.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Attempt, Carrier, CarrierFuture, Channel, Outcome, Rule};
use crate::domain::TenantId;

/// The default carrier.
#[derive(Debug, Default, Clone, Copy)]
pub struct Simulated;

impl Carrier for Simulated {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn decide(&self, rules: &[Rule], attempt: &Attempt) -> Outcome {
        decide(rules, attempt.channel, &attempt.to, attempt.n)
    }

    fn dispatch<'a>(
        &'a self,
        _conn: &'a mut PgConnection,
        _tenant: TenantId,
        _attempt: &'a Attempt,
        _outcome: Outcome,
        _now: DateTime<Utc>,
    ) -> CarrierFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// The outcome of attempt `n` (1-based) to `to` on `channel`: the tenant's `rules` first,
/// then the built-in [`table`].
pub fn decide(rules: &[Rule], channel: Channel, to: &str, n: i32) -> Outcome {
    match by_rules(rules, channel, to, n) {
        Some(o) => o,
        None => table(channel, to, n),
    }
}

/// The outcome the first matching rule gives, if one matches.
pub fn by_rules(rules: &[Rule], channel: Channel, to: &str, n: i32) -> Option<Outcome> {
    let rule = rules
        .iter()
        .find(|r| r.channel.is_none_or(|c| c == channel) && glob(&r.pattern, to))?;
    let i = usize::try_from(n.max(1) - 1).unwrap_or(0);
    rule.outcomes.get(i).or(rule.outcomes.last()).copied()
}

/// The built-in table (module doc).
pub fn table(channel: Channel, to: &str, n: i32) -> Outcome {
    match channel {
        Channel::Email => email(to, n),
        Channel::Voice => match test_digit(to) {
            Some(1) => Outcome::NoAnswer,
            Some(2) => Outcome::Busy,
            Some(3) => Outcome::Voicemail,
            Some(4) => Outcome::Invalid,
            Some(5) if n <= 1 => Outcome::NoAnswer,
            Some(6) => Outcome::Unreachable,
            Some(7) => Outcome::OptOut,
            Some(8) => Outcome::Abandoned,
            _ => Outcome::Answered,
        },
        Channel::Sms => match test_digit(to) {
            Some(1) => Outcome::Undelivered,
            Some(2) | Some(6) => Outcome::CarrierError,
            Some(4) => Outcome::Invalid,
            Some(5) if n <= 1 => Outcome::Undelivered,
            Some(7) => Outcome::OptOut,
            _ => Outcome::Delivered,
        },
    }
}

fn email(to: &str, n: i32) -> Outcome {
    let local = to.split('@').next().unwrap_or("").trim().to_ascii_lowercase();
    if local.starts_with("bounce") {
        Outcome::Bounced
    } else if local.starts_with("defer") && n <= 1 {
        Outcome::Undelivered
    } else {
        Outcome::Delivered
    }
}

/// N of a `+1 NPA 555 000N` number (E.164 `+1NPA555000N`, N in 1..=8).
fn test_digit(to: &str) -> Option<u8> {
    let digits: String = to.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let rest = digits.strip_prefix("+1")?;
    let b = rest.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || &rest[3..9] != "555000" {
        return None;
    }
    match b[9] - b'0' {
        d @ 1..=8 => Some(d),
        _ => None,
    }
}

/// Glob match: `*` any run of characters (also none), `?` exactly one; case-insensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome as O;

    const NPA: [&str; 2] = ["415", "212"];

    #[test]
    fn every_row_of_the_voice_table() {
        let rows = [
            (1, O::NoAnswer, O::NoAnswer),
            (2, O::Busy, O::Busy),
            (3, O::Voicemail, O::Voicemail),
            (4, O::Invalid, O::Invalid),
            (5, O::NoAnswer, O::Answered),
            (6, O::Unreachable, O::Unreachable),
            (7, O::OptOut, O::OptOut),
            (8, O::Abandoned, O::Abandoned),
        ];
        for npa in NPA {
            for (d, first, then) in rows {
                let to = format!("+1{npa}555000{d}");
                assert_eq!(table(Channel::Voice, &to, 1), first, "{to}");
                assert_eq!(table(Channel::Voice, &to, 2), then, "{to}");
                assert_eq!(table(Channel::Voice, &to, 3), then, "{to}");
            }
        }
        assert_eq!(table(Channel::Voice, "+14155550100", 1), O::Answered);
        assert_eq!(table(Channel::Voice, "+14155550009", 1), O::Answered);
        assert_eq!(table(Channel::Voice, "+14155550000", 1), O::Answered);
        assert_eq!(table(Channel::Voice, "+441415550001", 1), O::Answered);
        assert_eq!(table(Channel::Voice, "+1 415 555 0002", 1), O::Busy);
    }

    #[test]
    fn every_row_of_the_sms_table() {
        let rows = [
            (1, O::Undelivered, O::Undelivered),
            (2, O::CarrierError, O::CarrierError),
            (3, O::Delivered, O::Delivered),
            (4, O::Invalid, O::Invalid),
            (5, O::Undelivered, O::Delivered),
            (6, O::CarrierError, O::CarrierError),
            (7, O::OptOut, O::OptOut),
            (8, O::Delivered, O::Delivered),
        ];
        for npa in NPA {
            for (d, first, then) in rows {
                let to = format!("+1{npa}555000{d}");
                assert_eq!(table(Channel::Sms, &to, 1), first, "{to}");
                assert_eq!(table(Channel::Sms, &to, 2), then, "{to}");
            }
        }
        assert_eq!(table(Channel::Sms, "+14155550199", 1), O::Delivered);
    }

    #[test]
    fn emails() {
        assert_eq!(table(Channel::Email, "bounce@example.com", 1), O::Bounced);
        assert_eq!(table(Channel::Email, "Bounce.me@example.com", 2), O::Bounced);
        assert_eq!(table(Channel::Email, "defer-1@example.com", 1), O::Undelivered);
        assert_eq!(table(Channel::Email, "defer-1@example.com", 2), O::Delivered);
        assert_eq!(table(Channel::Email, "ann@example.com", 1), O::Delivered);
        assert_eq!(table(Channel::Email, "ann@bounce.example.com", 1), O::Delivered);
    }

    #[test]
    fn rules_come_first_and_the_last_outcome_repeats() {
        let rules = vec![
            Rule {
                pattern: "+1415*".into(),
                channel: Some(Channel::Voice),
                outcomes: vec![O::Busy, O::Busy, O::Answered],
            },
            Rule {
                pattern: "*".into(),
                channel: None,
                outcomes: vec![O::CarrierError],
            },
        ];
        let to = "+14155550001";
        assert_eq!(decide(&rules, Channel::Voice, to, 1), O::Busy);
        assert_eq!(decide(&rules, Channel::Voice, to, 2), O::Busy);
        assert_eq!(decide(&rules, Channel::Voice, to, 3), O::Answered);
        assert_eq!(decide(&rules, Channel::Voice, to, 9), O::Answered);
        // the second rule takes the other channels and numbers
        assert_eq!(decide(&rules, Channel::Sms, to, 1), O::CarrierError);
        assert_eq!(decide(&rules, Channel::Voice, "+12125550100", 1), O::CarrierError);
        // no rule: the table
        assert_eq!(decide(&[], Channel::Voice, to, 1), O::NoAnswer);
        let empty = vec![Rule {
            pattern: "*".into(),
            channel: None,
            outcomes: vec![],
        }];
        assert_eq!(decide(&empty, Channel::Sms, "+14155550003", 1), O::Delivered);
    }

    #[test]
    fn globs() {
        assert!(glob("+1415*", "+14155550100"));
        assert!(!glob("+1415*", "+12125550100"));
        assert!(glob("*", ""));
        assert!(glob("*@example.com", "Ann@Example.com"));
        assert!(glob("+1???5550001", "+14155550001"));
        assert!(!glob("+1???5550001", "+141555500011"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("+14155550100", "+14155550100"));
    }
}
