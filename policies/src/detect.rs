//! Detectors of personal data and secrets in text: e-mail addresses, phone numbers, credit card
//! numbers (Luhn-checked), IPv4 and IPv6 addresses, bearer tokens, common API-key formats, JWTs
//! and IBANs (mod-97-checked). Regular expressions find candidates; checksums and parsers
//! confirm them, so that order numbers are not taken for cards.

use std::sync::OnceLock;

use regex::Regex;

/// One kind of sensitive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A JSON Web Token.
    Jwt,
    /// `Bearer <token>` in a header or text.
    BearerToken,
    /// A provider API key (OpenAI, Anthropic, AWS, GitHub, Slack, Google).
    ApiKey,
    /// An e-mail address, internationalised ones included (`jöhn@exämple.de`, `用户@例子.广告`).
    Email,
    /// A payment card number that passes the Luhn check.
    CreditCard,
    /// An IBAN that passes the mod-97 check.
    Iban,
    /// An IPv6 address.
    Ipv6,
    /// An IPv4 address.
    Ipv4,
    /// A phone number written with separators or a country code, with seven digits or more
    /// outside calendar dates (a dated model name is not a phone number).
    Phone,
}

impl Kind {
    /// Every detector, in the order they run (the most specific first).
    pub const ALL: [Kind; 9] = [
        Kind::Jwt,
        Kind::BearerToken,
        Kind::ApiKey,
        Kind::Email,
        Kind::CreditCard,
        Kind::Iban,
        Kind::Ipv6,
        Kind::Ipv4,
        Kind::Phone,
    ];

    /// The name used in configuration and in replacements.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jwt => "jwt",
            Kind::BearerToken => "bearer_token",
            Kind::ApiKey => "api_key",
            Kind::Email => "email",
            Kind::CreditCard => "credit_card",
            Kind::Iban => "iban",
            Kind::Ipv6 => "ipv6",
            Kind::Ipv4 => "ipv4",
            Kind::Phone => "phone",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn pattern(self) -> &'static str {
        match self {
            Kind::Jwt => r"\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+",
            Kind::BearerToken => r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*",
            Kind::ApiKey => {
                r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})"
            }
            // Letters, marks and digits of any script (internationalised addresses, RFC 6531,
            // and internationalised domain names), and the full-width `＠` of East Asian input.
            Kind::Email => {
                r"[\p{L}\p{M}\p{N}._%+-]+[@＠][\p{L}\p{M}\p{N}-]+(?:\.[\p{L}\p{M}\p{N}-]+)*\.[\p{L}\p{M}]{2,}"
            }
            Kind::CreditCard => r"\b\d(?:[ -]?\d){12,18}\b",
            Kind::Iban => r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
            Kind::Ipv6 => r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?",
            Kind::Ipv4 => {
                r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"
            }
            Kind::Phone => {
                r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])\d{2,4}[ .-]\d{2,4}(?:[ .-]\d{2,4})?\b"
            }
        }
    }

    fn regex(self) -> &'static Regex {
        static COMPILED: OnceLock<Vec<Regex>> = OnceLock::new();
        let all = COMPILED.get_or_init(|| {
            Kind::ALL
                .iter()
                .map(|k| Regex::new(k.pattern()).expect("detector patterns are valid"))
                .collect()
        });
        &all[self as usize]
    }

    /// This kind's bit in a set of kinds.
    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether a candidate the pattern found is really of this kind.
    fn confirms(self, candidate: &str) -> bool {
        match self {
            Kind::CreditCard => luhn(candidate),
            Kind::Iban => iban_checksum(candidate),
            Kind::Ipv6 => {
                let address = candidate.split('%').next().unwrap_or(candidate);
                address.matches(':').count() >= 2 && address.parse::<std::net::Ipv6Addr>().is_ok()
            }
            Kind::Phone => {
                let digits = candidate.chars().filter(|&c| is_decimal(c)).count();
                (7..=15).contains(&digits) && digits_outside_dates(candidate) >= 7
            }
            _ => true,
        }
    }
}

/// Whether the phone candidate at `range` is a piece of a longer identifier rather than a
/// number standing apart: it begins with a digit right after a letter or digit (the tail of
/// `f9-4086-4820` in a UUID, of `o1-2024-12-17`), or it lies inside a UUID. The phone pattern
/// cannot say so itself (the regex crate has no look-behind); tool call ids, conversation ids
/// and response ids are UUIDs in many producers' spans.
fn part_of_an_identifier(text: &str, range: &std::ops::Range<usize>) -> bool {
    let starts_with_digit = text[range.clone()].starts_with(|c: char| c.is_ascii_digit());
    let before = text[..range.start].chars().next_back();
    if starts_with_digit && before.is_some_and(|c| c.is_ascii_alphanumeric()) {
        return true;
    }
    let in_token = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let start = text[..range.start]
        .char_indices()
        .rev()
        .find(|&(_, c)| !in_token(c))
        .map_or(0, |(at, c)| at + c.len_utf8());
    let end = text[range.end..]
        .find(|c: char| !in_token(c))
        .map_or(text.len(), |at| range.end + at);
    is_uuid(&text[start..end])
}

/// Whether `token` is a UUID in its usual text form (hex digits, 8-4-4-4-12).
fn is_uuid(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(part, width)| part.len() == width && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The digits of a phone candidate that are not part of a calendar date: `2024-07-18`,
/// `18.07.2024` or `18-07-2024` (a year 1900–2099, a month, a day; the same `-` or `.` between
/// the three), with the hour after it (`2024-07-18 10` of a timestamp). The phone pattern
/// matches dates, and dated model names are everywhere in GenAI spans
/// (`gpt-4o-mini-2024-07-18`, `o1-2024-12-17`): a phone number needs seven digits besides them.
fn digits_outside_dates(candidate: &str) -> usize {
    // Each run of digits, with the one character before it when a single one separates it
    // from the previous run.
    let mut groups: Vec<(&str, Option<char>)> = Vec::new();
    let mut rest = candidate;
    let mut previous_end_at_start = true;
    while let Some(start) = rest.find(is_decimal) {
        let between = &rest[..start];
        let separator = match (previous_end_at_start, between.chars().count()) {
            (false, 1) => between.chars().next(),
            _ => None,
        };
        let after = &rest[start..];
        let end = after.find(|c: char| !is_decimal(c)).unwrap_or(after.len());
        groups.push((&after[..end], separator));
        rest = &after[end..];
        previous_end_at_start = false;
    }
    let number = |digits: &str, width: usize, range: std::ops::RangeInclusive<u32>| {
        digits.chars().count() == width
            && range.contains(
                &digits
                    .chars()
                    .filter_map(decimal_value)
                    .fold(0, |n, d| n * 10 + d),
            )
    };
    let is_date = |date: &[(&str, Option<char>)]| {
        let [(first, _), (month, joint), (last, second_joint)] = date else {
            return false;
        };
        joint == second_joint
            && matches!(joint, Some('-' | '.'))
            && number(month, 2, 1..=12)
            && ((number(first, 4, 1900..=2099) && number(last, 2, 1..=31))
                || (number(first, 2, 1..=31) && number(last, 4, 1900..=2099)))
    };
    let mut outside = 0;
    let mut at = 0;
    while at < groups.len() {
        if groups.len() - at >= 3 && is_date(&groups[at..at + 3]) {
            at += 3;
            if let Some((hour, Some(' '))) = groups.get(at)
                && number(hour, 2, 0..=23)
            {
                at += 1;
            }
        } else {
            outside += groups[at].0.len();
            at += 1;
        }
    }
    outside
}

/// Whether `c` is a decimal digit of any script (Unicode category Nd), as `\d` in the patterns
/// matches: `4`, and also the full-width `４` of Japanese input or the Arabic-Indic `٤`.
fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    static DECIMAL: OnceLock<Regex> = OnceLock::new();
    let decimal = DECIMAL.get_or_init(|| Regex::new(r"^\d$").expect("a valid pattern"));
    decimal.is_match(c.encode_utf8(&mut [0; 4]))
}

/// The value of a decimal digit of any script (what `\d` matches). Unicode encodes every
/// script's digits as whole runs of 0 to 9 in ascending order (The Unicode Standard, 4.6
/// "Numeric Value"), so a digit's value is its distance from the start of its run, modulo ten
/// (the mathematical digits are five such runs in a row).
pub fn decimal_value(c: char) -> Option<u32> {
    if c.is_ascii() {
        return c.to_digit(10);
    }
    if !is_decimal(c) {
        return None;
    }
    let mut start = c as u32;
    while let Some(previous) = start.checked_sub(1).and_then(char::from_u32)
        && is_decimal(previous)
    {
        start -= 1;
    }
    Some((c as u32 - start) % 10)
}

/// The Luhn checksum of the digits in `text` (13 to 19 digits).
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(decimal_value).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ISO 13616 mod-97 check of an IBAN (spaces ignored).
pub fn iban_checksum(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u64 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match decimal_value(c).or_else(|| c.to_digit(36)) {
            Some(v) => v as u64,
            None => return false,
        };
        remainder = if value < 10 {
            (remainder * 10 + value) % 97
        } else {
            (remainder * 100 + value) % 97
        };
    }
    remainder == 1
}

/// One finding: where, and what kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Byte range in the text.
    pub range: std::ops::Range<usize>,
    /// What was found.
    pub kind: Kind,
}

/// What one pass over a text's bytes tells about it: character counts, the short needles the
/// detectors' patterns begin with, and the longest runs of digits the number patterns could
/// match. Enough to rule most detectors out of most attribute values (names, models, ids,
/// messages without personal data, stack traces) without running their regular expressions.
/// One pass, because separate scans for each needle were most of `redact`'s time in wasm (a
/// profile of received spans passed through `redact`: `find` itself 25 % of the samples).
struct Shape {
    /// A digit, one of ` .-`, a digit: every phone number holds two, or one after a `)`.
    digit_separator_digit: usize,
    /// A `)` (a phone number's area code in parentheses).
    close_paren: bool,
    /// Upper-case ASCII letters (an IBAN starts with two).
    capitals: usize,
    dots: usize,
    /// The most ASCII digits in a run where each is at most one ` ` or `-` after the last: a
    /// card number's 13 to 19 digits are such a run.
    card_digits: usize,
    /// The most ASCII digits in a run where each is at most two of ` .-()` after the last: a
    /// phone number's 7 to 15 digits are such a run (`+44 (20) 7946-0958`).
    phone_digits: usize,
    /// Two upper-case ASCII letters and two ASCII digits in a row, with which an IBAN begins.
    iban_start: bool,
    /// Three groups of ASCII digits, each followed by one dot, and a digit: an IPv4 address.
    dotted_quad: bool,
    /// An `@` after a character that may end an e-mail address's local part and before one
    /// that may begin its domain (letters, digits, `._%+-`; any byte outside ASCII may be a
    /// letter or mark of another script).
    email_at: bool,
    /// Two colons with at most four hex digits between them, which every IPv6 match holds.
    colon_pair: bool,
    /// `eyJ`, with which both a JWT's header and payload begin.
    jwt_start: bool,
    /// `bearer`, in any case.
    bearer: bool,
    /// The start of a provider key format: `sk-`, `AKIA`, `gh`, `github_pat_`, `xox`, `AIza`.
    key_prefix: bool,
    /// A byte outside ASCII: the text may hold digits of other scripts, which `\d` matches and
    /// the counts above leave out, so the conditions on digits do not hold for it.
    non_ascii: bool,
}

/// Whether `byte` may end an e-mail address's local part (`[\p{L}\p{M}\p{N}._%+-]`; a byte
/// outside ASCII belongs to a character that may be a letter or mark).
fn may_end_local_part(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-') || byte >= 0x80
}

/// Whether `byte` may begin an e-mail address's domain (`[\p{L}\p{M}\p{N}-]`, as above).
fn may_begin_domain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte >= 0x80
}

/// The bytes [`Shape::of`] looks at: digits, `.`, `:`, `@`, `)`, upper-case letters, and `b`,
/// `e`, `g`, `s`, `x` (the first letters of `bearer`, `eyJ`, `gh`, `sk-`, `xox`). Most bytes of
/// most texts (other letters, spaces, punctuation) are none of them and cost one table lookup.
static PLAYS_A_ROLE: [bool; 256] = {
    let mut plays = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        plays[byte] = matches!(
            byte as u8,
            b'0'..=b'9' | b'.' | b':' | b'@' | b')' | b'A'..=b'Z' | b'b' | b'e' | b'g' | b's' | b'x'
        );
        byte += 1;
    }
    plays
};

impl Shape {
    /// One pass over `text`. Bytes without a role are skipped; what depends on the bytes
    /// around a digit, a colon or an `@` is read back from there (at most a few bytes, except
    /// for the digit groups of an IPv4 address), so that skipped bytes need no bookkeeping.
    fn of(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut shape = Shape {
            digit_separator_digit: 0,
            close_paren: false,
            capitals: 0,
            dots: 0,
            card_digits: 0,
            phone_digits: 0,
            iban_start: false,
            dotted_quad: false,
            email_at: false,
            colon_pair: false,
            jwt_start: false,
            bearer: false,
            key_prefix: false,
            non_ascii: !text.is_ascii(),
        };
        // The digit runs being counted, and where the last digit was.
        let (mut card_run, mut phone_run) = (0usize, 0usize);
        let mut last_digit: Option<usize> = None;
        for (at, &byte) in bytes.iter().enumerate() {
            if !PLAYS_A_ROLE[byte as usize] {
                continue;
            }
            if byte.is_ascii_digit() {
                let gap = last_digit.map(|last| &bytes[last + 1..at]);
                card_run = match gap {
                    Some([] | [b' ' | b'-']) => card_run + 1,
                    _ => 1,
                };
                phone_run = match gap {
                    Some(gap)
                        if gap.len() <= 2
                            && gap
                                .iter()
                                .all(|b| matches!(b, b' ' | b'.' | b'-' | b'(' | b')')) =>
                    {
                        phone_run + 1
                    }
                    _ => 1,
                };
                shape.card_digits = shape.card_digits.max(card_run);
                shape.phone_digits = shape.phone_digits.max(phone_run);
                if at >= 2 {
                    let (before, two_before) = (bytes[at - 1], bytes[at - 2]);
                    if matches!(before, b' ' | b'.' | b'-') && two_before.is_ascii_digit() {
                        shape.digit_separator_digit += 1;
                    }
                    if before == b'.' && !shape.dotted_quad {
                        shape.dotted_quad = three_dotted_groups_end_at(bytes, at - 1);
                    }
                    if at >= 3
                        && before.is_ascii_digit()
                        && two_before.is_ascii_uppercase()
                        && bytes[at - 3].is_ascii_uppercase()
                    {
                        shape.iban_start = true;
                    }
                }
                last_digit = Some(at);
                continue;
            }
            let rest = &bytes[at..];
            match byte {
                b'.' => shape.dots += 1,
                b':' if !shape.colon_pair && colon_pair_ends_at(bytes, at) => {
                    shape.colon_pair = true;
                }
                b'@' if at >= 1
                    && may_end_local_part(bytes[at - 1])
                    && rest.len() >= 2
                    && may_begin_domain(rest[1]) =>
                {
                    shape.email_at = true;
                }
                b')' => shape.close_paren = true,
                b'A'..=b'Z' => {
                    shape.capitals += 1;
                    if byte == b'A' && (rest.starts_with(b"AKIA") || rest.starts_with(b"AIza")) {
                        shape.key_prefix = true;
                    }
                    if byte == b'B' && rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"bearer")
                    {
                        shape.bearer = true;
                    }
                }
                b'b' if rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"bearer") => {
                    shape.bearer = true;
                }
                b'e' if rest.starts_with(b"eyJ") => shape.jwt_start = true,
                b's' if rest.starts_with(b"sk-") => shape.key_prefix = true,
                b'g' if rest.starts_with(b"gh") || rest.starts_with(b"github_pat_") => {
                    shape.key_prefix = true;
                }
                b'x' if rest.starts_with(b"xox") => shape.key_prefix = true,
                _ => {}
            }
        }
        shape
    }
}

/// Whether the dot at `dot` ends three groups of digits, each followed by one dot
/// (`192.168.1.` before the last digit group of an IPv4 address).
fn three_dotted_groups_end_at(bytes: &[u8], dot: usize) -> bool {
    let mut dot = dot;
    for groups in 1..=3 {
        // The digits before this dot, and the byte before them.
        let digits = bytes[..dot]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        if groups == 3 {
            return true;
        }
        match (dot - digits).checked_sub(1) {
            Some(before) if bytes[before] == b'.' => dot = before,
            _ => return false,
        }
    }
    false
}

/// Whether the colon at `colon` follows another colon with at most four hex digits between
/// them, which every IPv6 match holds.
fn colon_pair_ends_at(bytes: &[u8], colon: usize) -> bool {
    let hex = bytes[..colon]
        .iter()
        .rev()
        .take(5)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    hex <= 4 && colon > hex && bytes[colon - hex - 1] == b':'
}

impl Kind {
    /// A necessary condition for this kind's pattern to find a confirmed value in `text`: when
    /// it fails, the regular expression cannot match (each condition is implied by the pattern,
    /// or by [`Kind::confirms`]), so it is skipped.
    fn may_occur(self, text: &str, shape: &Shape) -> bool {
        match self {
            Kind::Jwt => shape.dots >= 2 && shape.jwt_start,
            Kind::BearerToken => text.len() >= 15 && shape.bearer,
            Kind::ApiKey => text.len() >= 15 && shape.key_prefix,
            Kind::Email => shape.email_at || (shape.non_ascii && text.contains('＠')),
            // The conditions on digits count ASCII digits only: a text with other characters
            // runs the patterns that match digits.
            Kind::CreditCard => shape.non_ascii || shape.card_digits >= 13,
            Kind::Iban => {
                (shape.iban_start || (shape.non_ascii && shape.capitals >= 2)) && text.len() >= 15
            }
            Kind::Ipv6 => shape.colon_pair,
            Kind::Ipv4 => shape.dotted_quad || (shape.non_ascii && shape.dots >= 3),
            Kind::Phone => {
                shape.non_ascii
                    || shape.phone_digits >= 7
                        && (shape.digit_separator_digit >= 2
                            || (shape.close_paren && shape.digit_separator_digit >= 1))
            }
        }
    }
}

/// Finds every confirmed value of the `kinds` in `text`, without overlaps (earlier kinds in
/// [`Kind::ALL`] win), in text order.
pub fn find(text: &str, kinds: &[Kind]) -> Vec<Finding> {
    let shape = Shape::of(text);
    let wanted = kinds.iter().fold(0u16, |set, kind| set | kind.bit());
    scan(
        text,
        Kind::ALL
            .into_iter()
            .filter(|k| wanted & k.bit() != 0 && k.may_occur(text, &shape)),
    )
}

/// Runs the regular expressions of `kinds` (in [`Kind::ALL`] order) over `text`.
fn scan(text: &str, kinds: impl Iterator<Item = Kind>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for kind in kinds {
        for m in kind.regex().find_iter(text) {
            let range = m.range();
            let overlaps = findings
                .iter()
                .any(|f| f.range.start < range.end && range.start < f.range.end);
            if !overlaps
                && kind.confirms(m.as_str())
                && !(kind == Kind::Phone && part_of_an_identifier(text, &range))
            {
                findings.push(Finding { range, kind });
            }
        }
    }
    findings.sort_by_key(|f| f.range.start);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_in(text: &str) -> Vec<(&'static str, String)> {
        find(text, &Kind::ALL)
            .into_iter()
            .map(|f| (f.kind.name(), text[f.range].to_string()))
            .collect()
    }

    #[test]
    fn finds_each_kind() {
        let cases = [
            (
                "mail me at jane.doe+work@example.co.uk today",
                "email",
                "jane.doe+work@example.co.uk",
            ),
            (
                "card 4111 1111 1111 1111 exp 12/29",
                "credit_card",
                "4111 1111 1111 1111",
            ),
            ("server 192.168.10.25 is up", "ipv4", "192.168.10.25"),
            (
                "v6 2001:db8::8a2e:370:7334 here",
                "ipv6",
                "2001:db8::8a2e:370:7334",
            ),
            (
                "Authorization: Bearer abcDEF123456789.xyz",
                "bearer_token",
                "Bearer abcDEF123456789.xyz",
            ),
            (
                "key sk-proj-abcdefghijklmnopqrstuvwx1234",
                "api_key",
                "sk-proj-abcdefghijklmnopqrstuvwx1234",
            ),
            (
                "aws AKIAIOSFODNN7EXAMPLE",
                "api_key",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            (
                "iban DE89 3704 0044 0532 0130 00 ok",
                "iban",
                "DE89 3704 0044 0532 0130 00",
            ),
            ("call +1 415-555-0132 now", "phone", "+1 415-555-0132"),
            // Internationalised addresses: letters and marks of any script, in the local part,
            // the domain and the top-level domain, and the full-width at sign.
            (
                "to jöhn.müller@exämple.de.",
                "email",
                "jöhn.müller@exämple.de",
            ),
            ("联系 用户@例子.广告 谢谢", "email", "用户@例子.广告"),
            (
                "пишите: пользователь@пример.рф",
                "email",
                "пользователь@пример.рф",
            ),
            ("राम@डाटामेल.भारत पर", "email", "राम@डाटामेल.भारत"),
            (
                "メール jane＠example.com まで",
                "email",
                "jane＠example.com",
            ),
        ];
        for (text, kind, value) in cases {
            assert_eq!(kinds_in(text), [(kind, value.to_string())], "{text}");
        }
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            kinds_in(&format!("token {jwt}")),
            [("jwt", jwt.to_string())]
        );
    }

    /// The pre-checks only skip work: on texts full of near-misses, every detector run alone
    /// with its regular expression finds exactly what `find` finds.
    #[test]
    fn pre_checks_never_hide_a_finding() {
        let texts = [
            "mail me at jane.doe+work@example.co.uk today",
            "card 4111 1111 1111 1111 exp 12/29, 4111111111111111",
            "server 192.168.10.25 is up; 1.2.3.4 and 10.0.0.1:8080",
            "v6 2001:db8::8a2e:370:7334 here, ::1, fe80::1%eth0",
            "Authorization: Bearer abcDEF123456789.xyz and BEARER zzzzzzzzzz",
            "key sk-proj-abcdefghijklmnopqrstuvwx1234 AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789 xoxb-1234567890-abc",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
            "iban DE89 3704 0044 0532 0130 00 ok, GB82WEST12345698765432",
            "call +1 415-555-0132 now or (020) 7946 0958",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "a@b.co",
            "12:34:56",
            "1.2.3",
            "415-555-0132",
            "gpt-4o",
            "planner",
            "",
            "::1",
            // Each key format alone, so that no other needle in the text lets it through.
            "xoxb-1234567890-abc",
            "AKIAIOSFODNN7EXAMPLE",
            "sk-ABCDEFabcdef0123456789zz",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "AIzaSyA1234567890abcdefghijklmnopqrstu",
            // Without `gh` anywhere: a fine-grained token's prefix does not begin with it.
            "github_pat_11ABCDEFG0123456789_zzzzzzzzzzzz",
            "[::1]:80 and AB:CD:EF, 0000:12345:1",
            r#"{"role":"user","content":"mail a@b.co from 10.1.2.3"}"#,
            "ends with Bear",
            "ends with xo",
            "ends with g",
            "ends with ey",
            "ends with AKI",
            "bEaReR 0123456789abcdef",
            // Phone numbers and near misses: one separator, a parenthesis, long digit runs.
            "(020)7946 0958",
            "(20) 7946-0958",
            "020 79460958",
            "0201234567",
            "+4420 7946.0958",
            "12-345678",
            "292677253636877626526370921791649901407",
            // The fewest digits each number pattern takes: a 13-digit and a 14-digit card, a
            // phone number of 7 digits.
            "4222222222222",
            "3056 9309 0259 04",
            "call 1 23 4567 now",
            // Digits of other scripts, which `\d` matches: a full-width card number, as Japanese
            // input writes it, Arabic-Indic digits in a card, an IPv4 address, a phone number
            // and an IBAN, and mixed with ASCII digits.
            "カード ４１１１ １１１１ １１１１ １１１１",
            "٤١١١١١١١١١١١١١١١",
            "host ١٩٢.١٦٨.١.١",
            "call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨ today",
            "41٥ 555 0132",
            "DE٨٩ ٣٧٠٤ ٠٠٤٤ ٠٥٣٢ ٠١٣٠ ٠٠",
            // An IPv6 address whose every group has four hex digits.
            "1234:5678:9abc:def0:1234:5678:9abc:def0",
        ];
        // Each text alone, and every pair joined by a space and by nothing, so that needles
        // and near-misses also meet at the texts' edges.
        let joined = texts.iter().flat_map(|a| {
            texts
                .iter()
                .flat_map(move |b| [format!("{a} {b}"), format!("{a}{b}")])
        });
        for text in texts.iter().map(|t| t.to_string()).chain(joined) {
            let unfiltered = scan(&text, Kind::ALL.into_iter());
            assert_eq!(find(&text, &Kind::ALL), unfiltered, "{text}");
        }
    }

    /// The same, on many texts made of the characters the pre-checks look at: digits and the
    /// separators of cards, phone numbers and addresses, the needles, letters, and a few
    /// characters outside ASCII. Pseudo-random with a fixed seed, so that a failure repeats.
    #[test]
    fn pre_checks_never_hide_a_finding_in_generated_texts() {
        const PIECES: [&str; 40] = [
            "0", "1", "4", "7", "9", "12", "255", "4111", " ", " ", "-", ".", ".", "(", ")", "+",
            ":", "::", "@", "a", "e", "f", "x", "Z", "DE", "GB82", "WEST", "eyJ", "sk-", "AKIA",
            "Bearer ", "xoxb-", "gh", "mail", ".co", "٤", "＠", "é", "\n", "_",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..30_000 {
            let length = 1 + (next() % 24) as usize;
            let text: String = (0..length)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            let unfiltered = scan(&text, Kind::ALL.into_iter());
            assert_eq!(find(&text, &Kind::ALL), unfiltered, "{text:?}");
        }
    }

    /// `\d` matches the digits of every script; the checks that confirm a match read them too,
    /// so a card number typed in full-width digits is found as the Python policy finds it.
    #[test]
    fn digits_of_other_scripts_are_read_as_digits() {
        for (digit, value) in [('٤', 4), ('４', 4), ('𝟒', 4), ('𝟫', 9), ('९', 9), ('٠', 0)]
        {
            assert_eq!(decimal_value(digit), Some(value), "{digit}");
        }
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('²'), None);
        for card in ["４１１１ １１１１ １１１１ １１１１", "٤١١١١١١١١١١١١١١١"]
        {
            assert_eq!(kinds_in(card), [("credit_card", card.to_string())]);
            assert!(luhn(card));
        }
        assert_eq!(
            kinds_in("call +٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨ today"),
            [("phone", "+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨".to_string())]
        );
        // A dated name in other digits is a date still, not a phone number.
        assert_eq!(kinds_in("model-٢٠٢٤-٠٧-١٨"), []);
    }

    #[test]
    fn kinds_are_listed_in_declaration_order() {
        // `Kind::regex` indexes the compiled patterns by the kind's number.
        for (index, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index);
        }
    }

    #[test]
    fn checksums_reject_lookalikes() {
        assert!(kinds_in("order 4111 1111 1111 1112 shipped").is_empty());
        // A failed IBAN checksum is not an IBAN (its digit groups may still look like a phone
        // number, which errs on the side of redacting).
        assert!(
            !kinds_in("ref DE00 3704 0044 0532 0130 00")
                .iter()
                .any(|(k, _)| *k == "iban")
        );
        assert!(kinds_in("version 1.2.3 and 300.1.1.1").is_empty());
        assert!(kinds_in("the ratio is 3:4 and 10:30").is_empty());
        assert!(kinds_in("plain text without secrets").is_empty());
    }

    #[test]
    fn pieces_of_identifiers_are_not_phone_numbers() {
        for text in [
            "2c1100f9-4086-4820-aaf7-8ec1ac63bfc6",
            "call_id abcdefab-1234-5678-9012-abcdef123456 done",
            "12345678-1234-5678-1234-567812345678",
            "build a1-234-5678-90",
        ] {
            assert_eq!(kinds_in(text), [], "{text}");
        }
        for text in [
            "call 415-555-0132",
            "Tel.+44 20 7946 0958",
            "tel:+1 415-555-0132",
            "(020) 7946 0958",
            "x-415-555-0132-y",
        ] {
            assert_eq!(
                kinds_in(text).first().map(|(kind, _)| *kind),
                Some("phone"),
                "{text}"
            );
        }
    }

    #[test]
    fn dates_are_not_phone_numbers() {
        for text in [
            "gpt-4o-mini-2024-07-18",
            "o1-2024-12-17",
            "on 2024-07-18 10:22:33 UTC",
            "am 18.07.2024",
            "le 18-07-2024",
            "2024.07.18",
            "from 2024-07-18 to 2024-08-01",
        ] {
            assert_eq!(kinds_in(text), [], "{text}");
        }
        assert_eq!(
            kinds_in("call +1 415-555-0132 on 2024-07-18"),
            [("phone", "+1 415-555-0132".to_string())]
        );
        // Date-shaped but no date (month 13, a year out of range, mixed separators): still
        // phone numbers.
        for text in ["call 2024-13-18", "call 0201-12-34", "call 2024-07.18"] {
            assert_eq!(
                kinds_in(text).first().map(|(kind, _)| *kind),
                Some("phone"),
                "{text}"
            );
        }
    }
}
