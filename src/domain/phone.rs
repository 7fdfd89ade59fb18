//! Phone numbers: parse and normalise to E.164.

use phonenumber::{Mode, PhoneNumber as Parsed};

/// A phone number normalised to E.164, with the caller's original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    pub e164: String,
    pub original: String,
    pub country: Option<String>,
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number is not valid")]
    Invalid,
}

impl PhoneNumber {
    /// Parses `input`; numbers without a leading `+` are read as US/NANP numbers
    /// (10 digits, or 11 starting with 1), as the vendors' US-centric APIs do.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let original = input.to_string();
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !trimmed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(PhoneError::Invalid);
        }
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() < 7 || digits.len() > 15 {
            return Err(PhoneError::Invalid);
        }
        let candidate = if trimmed.starts_with('+') {
            format!("+{digits}")
        } else if trimmed.starts_with("00") {
            format!("+{}", &digits[2..])
        } else if digits.len() == 10 {
            format!("+1{digits}")
        } else {
            format!("+{digits}")
        };
        let parsed: Parsed = phonenumber::parse(None, &candidate).map_err(|_| PhoneError::Invalid)?;
        // Accept numbers that are possible for their region; fictional test ranges such as
        // +1 111-111-1111 (used in vendor docs) are accepted when they have a valid length.
        let e164 = parsed.format().mode(Mode::E164).to_string();
        let country = parsed.country().id().map(|c| format!("{c:?}"));
        if !phonenumber::is_valid(&parsed) && !plausible(&e164) {
            return Err(PhoneError::Invalid);
        }
        Ok(PhoneNumber { e164, original, country })
    }

    /// Whether the number is a North-American (+1) number.
    pub fn is_nanp(&self) -> bool {
        self.e164.starts_with("+1") && self.e164.len() == 12
    }
}

/// Length check used for numbers the metadata calls invalid (doc examples like +1 111…).
fn plausible(e164: &str) -> bool {
    let digits = e164.len() - 1;
    if e164.starts_with("+1") {
        return digits == 11;
    }
    (8..=15).contains(&digits)
}

/// Normalises or returns None.
pub fn normalize(input: &str) -> Option<String> {
    PhoneNumber::parse(input).ok().map(|p| p.e164)
}

/// Short emergency numbers that must never be put on lists or dialled.
pub fn is_emergency(input: &str) -> bool {
    let digits: String = input.chars().filter(|c| c.is_ascii_digit()).collect();
    matches!(
        digits.as_str(),
        "911" | "112" | "999" | "000" | "110" | "119" | "118" | "100" | "101" | "102" | "933" | "08" | "15" | "17" | "18"
    )
}

/// The E.164 form of `input`, as [`PhoneNumber::parse`] gives it, with a fast path for
/// North-American numbers written with their `+1` (`+1 415-555-0100`, `+14155550100`):
/// bulk imports normalise millions of numbers, and such a number is accepted with its
/// digits as they are whatever the metadata says (see `plausible`).
pub fn e164(input: &str) -> Result<String, PhoneError> {
    match nanp_e164(input) {
        Some(n) => Ok(n),
        None => PhoneNumber::parse(input).map(|p| p.e164),
    }
}

/// `+1` then a 10-digit NANP number (area code and exchange starting 2–9), separators
/// allowed; None for anything else.
fn nanp_e164(input: &str) -> Option<String> {
    let rest = input.trim().strip_prefix('+')?;
    let mut out = String::with_capacity(12);
    out.push('+');
    for b in rest.bytes() {
        match b {
            b'0'..=b'9' if out.len() < 12 => out.push(b as char),
            b' ' | b'-' | b'(' | b')' | b'.' => {}
            _ => return None,
        }
    }
    let d = out.as_bytes();
    (d.len() == 12 && d[1] == b'1' && d[2] >= b'2' && d[5] >= b'2').then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        assert_eq!(PhoneNumber::parse("+1 760-867-5309").unwrap().e164, "+17608675309");
        assert_eq!(PhoneNumber::parse("(760) 867-5309").unwrap().e164, "+17608675309");
        assert_eq!(PhoneNumber::parse("+1 111-111-1111").unwrap().e164, "+11111111111");
        assert_eq!(PhoneNumber::parse("+44 20 7946 0958").unwrap().e164, "+442079460958");
        assert_eq!(PhoneNumber::parse("+33 6 12 34 56 78").unwrap().e164, "+33612345678");
        assert!(PhoneNumber::parse("").is_err());
        assert!(PhoneNumber::parse("abc").is_err());
        assert!(PhoneNumber::parse("12").is_err());
        assert!(is_emergency("911"));
        assert!(!is_emergency("+17608675309"));
    }

    #[test]
    fn fast_path_agrees_with_the_parser() {
        let mut inputs = vec![
            "+1 760-867-5309".to_string(),
            "+1 (415) 555.0100".into(),
            " +12125550199 ".into(),
            "+1 111-111-1111".into(),
            "+1 911 555 1234".into(),
            "+44 20 7946 0958".into(),
            "+1 415 555 01000".into(),
            "+1 415 555 010".into(),
            "4155550100".into(),
            "+1+4155550100".into(),
        ];
        for a in [201, 212, 312, 415, 555, 800, 911, 999] {
            for x in [200, 220, 244, 555, 911, 999] {
                inputs.push(format!("+1{a}{x}{:04}", (a * x) % 10_000));
            }
        }
        for i in &inputs {
            assert_eq!(e164(i), PhoneNumber::parse(i).map(|p| p.e164), "{i}");
        }
        assert!(nanp_e164("+1 415 555 0100").is_some());
        assert!(nanp_e164("+1 111 555 0100").is_none());
    }
}
