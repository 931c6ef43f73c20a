"""The `redact` policy written in Python, as a WebAssembly component (componentize-py).

It follows the Rust `redact` policy (policies/src/redact.rs) key for key: `allowed-keys`,
`blocked-key-patterns`, `blocked-value-patterns` (one pattern per line), `detectors`,
`action` (`mask` or `hash` with `hash-key`) and `summary`. It shows that a security team can
write and ship a policy in another language against the same WIT contract, and it runs the same
test suite as the Rust policy.

Build:  componentize-py -d ../../wit -w sender-policy-plugin componentize app -o python_redact.wasm
"""

import hashlib
import ipaddress
import traceback
import json
import re
import unicodedata

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.grouping import SpanGrouping
from wit_world.exports.policy import PolicyInfo, Verdict_Keep, Verdict_Replace
from wit_world.imports import host
from wit_world.imports.types import (
    Attribute,
    SpanStatus_Error,
    Value_Int,
    Value_Json,
    Value_Str,
    Value_StrArray,
)

def mark_ranges():
    """A character-class body holding every combining mark (Unicode category M). Python's `\\w`
    leaves them out, and scripts such as Devanagari write vowels with them (`भारत`)."""
    ranges = []
    for code in range(0x110000):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)


MARKS = mark_ranges()
# An address's parts, in letters, marks and digits of any script (`\w` without `_` where the
# Rust pattern has no `_`).
EMAIL_LOCAL = rf"(?:[\w.%+-]|[{MARKS}])+"
EMAIL_LABEL = rf"(?:[^\W_]|[{MARKS}-])+"
EMAIL_TOP_LEVEL = rf"(?:[^\W\d_]|[{MARKS}]){{2,}}"

# (name, pattern), the most specific first, as in the Rust detectors.
DETECTORS = [
    ("jwt", r"\beyJ[A-Za-z0-9_-]{2,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+"),
    ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    ("api_key", r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}"
                r"|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})"),
    # Letters, marks and digits of any script (internationalised addresses and domain names), and
    # the full-width at sign of East Asian input, as in the Rust detector.
    ("email", rf"{EMAIL_LOCAL}[@\uff20]{EMAIL_LABEL}(?:\.{EMAIL_LABEL})*\.{EMAIL_TOP_LEVEL}"),
    ("credit_card", r"\b\d(?:[ -]?\d){12,18}\b"),
    ("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
    ("ipv6", r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?"),
    ("ipv4", r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"),
    ("phone", r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])\d{2,4}[ .-]\d{2,4}(?:[ .-]\d{2,4})?\b"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in DETECTORS]
NAMES = [name for name, _ in DETECTORS]


def luhn(text):
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def iban_checksum(text):
    compact = "".join(text.split())
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def confirms(kind, candidate):
    if kind == "credit_card":
        return luhn(candidate)
    if kind == "iban":
        return iban_checksum(candidate)
    if kind == "ipv6":
        address = candidate.split("%")[0]
        if address.count(":") < 2:
            return False
        try:
            ipaddress.IPv6Address(address)
            return True
        except ValueError:
            return False
    if kind == "phone":
        return 7 <= sum(c.isdigit() for c in candidate) <= 15 and digits_outside_dates(candidate) >= 7
    return True


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def part_of_an_identifier(text, start, end):
    """Whether the phone candidate text[start:end] is a piece of a longer identifier, as in the
    Rust detectors: it begins with a digit right after a letter or digit, or lies in a UUID."""
    if text[start] in "0123456789" and start > 0 and text[start - 1] in TOKEN_CHARS and text[start - 1] != "-":
        return True
    while start > 0 and text[start - 1] in TOKEN_CHARS:
        start -= 1
    while end < len(text) and text[end] in TOKEN_CHARS:
        end += 1
    return UUID.fullmatch(text[start:end]) is not None


DIGIT_RUN = re.compile(r"\d+")


def digits_outside_dates(candidate):
    """The digits of a phone candidate that are not part of a calendar date (2024-07-18,
    18.07.2024, 18-07-2024, with the hour after it), as in the Rust detectors: dated model names
    (gpt-4o-mini-2024-07-18) are not phone numbers."""
    groups = []  # (digits, the one character before them when a single one separates them)
    previous_end = None
    for run in DIGIT_RUN.finditer(candidate):
        between = candidate[previous_end:run.start()] if previous_end is not None else ""
        groups.append((run.group(), between if len(between) == 1 else None))
        previous_end = run.end()

    def number(digits, width, low, high):
        return len(digits) == width and low <= int(digits) <= high

    def is_date(first, month, last):
        joint = month[1]
        return (joint == last[1] and joint in ("-", ".") and number(month[0], 2, 1, 12)
                and ((number(first[0], 4, 1900, 2099) and number(last[0], 2, 1, 31))
                     or (number(first[0], 2, 1, 31) and number(last[0], 4, 1900, 2099))))

    outside = 0
    at = 0
    while at < len(groups):
        if len(groups) - at >= 3 and is_date(*groups[at:at + 3]):
            at += 3
            if at < len(groups) and groups[at][1] == " " and number(groups[at][0], 2, 0, 23):
                at += 1
        else:
            outside += len(groups[at][0])
            at += 1
    return outside


def hmac_sha256(key, message):
    """HMAC-SHA256 (RFC 2104), written out over hashlib.sha256."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()


def lines(value):
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class Rules:
    """The policy's rules, read from the operator's configuration."""

    def __init__(self):
        allowed = host.config("allowed-keys")
        self.allowed = None if allowed is None else {k.strip() for k in allowed.split(",") if k.strip()}
        self.blocked_keys = self.patterns("blocked-key-patterns")
        self.blocked_values = self.patterns("blocked-value-patterns")
        detectors = (host.config("detectors") or "all").strip()
        if detectors in ("", "all"):
            self.detectors = NAMES
        elif detectors == "none":
            self.detectors = []
        else:
            self.detectors = [d.strip() for d in detectors.split(",")]
            for d in self.detectors:
                if d not in NAMES:
                    raise Err(f"config `detectors`: unknown detector `{d}` (known: {', '.join(NAMES)})")
        action = (host.config("action") or "mask").strip()
        if action == "hash":
            key = host.config("hash-key")
            if not key:
                raise Err("config `action` = `hash` needs a `hash-key`")
            self.key = key.encode()
        elif action == "mask":
            self.key = None
        else:
            raise Err(f"config `action`: expected `mask` or `hash`, got `{action}`")
        self.summary = (host.config("summary") or "counts").strip()
        if self.summary not in ("counts", "keys", "none"):
            raise Err(f"config `summary`: expected `counts`, `keys` or `none`, got `{self.summary}`")

    @staticmethod
    def patterns(key):
        compiled = []
        for pattern in lines(host.config(key)):
            try:
                compiled.append(re.compile(pattern))
            except re.error as e:
                raise Err(f"config `{key}`: pattern `{pattern}`: {e}")
        return compiled

    def replacement(self, kind, value):
        if self.key is None:
            return f"[REDACTED:{kind}]"
        return f"[{kind}:{hmac_sha256(self.key, value.encode()).hex()[:32]}]"

    def key_blocked(self, key):
        return any(p.search(key) for p in self.blocked_keys)

    def text(self, text, report):
        ranges = []
        for name, regex in COMPILED:
            if name not in self.detectors:
                continue
            for m in regex.finditer(text):
                start, end = m.span()
                if any(s < end and start < e for s, e, _ in ranges):
                    continue
                if confirms(name, m.group()) and not (
                        name == "phone" and part_of_an_identifier(text, start, end)):
                    ranges.append((start, end, name))
        for pattern in self.blocked_values:
            for m in pattern.finditer(text):
                start, end = m.span()
                if start < end and not any(s < end and start < e for s, e, _ in ranges):
                    ranges.append((start, end, "custom"))
        if not ranges:
            return text
        ranges.sort()
        out, at = [], 0
        for start, end, kind in ranges:
            out.append(text[at:start])
            out.append(self.replacement(kind, text[start:end]))
            report.found(kind)
            at = end
        out.append(text[at:])
        return "".join(out)

    def json(self, value, report):
        if isinstance(value, str):
            return self.text(value, report)
        if isinstance(value, list):
            return [self.json(v, report) for v in value]
        if isinstance(value, dict):
            result = {}
            for key, member in value.items():
                if self.key_blocked(key):
                    report.found("blocked_key")
                    result[key] = self.replacement("blocked_key", json.dumps(member, separators=(",", ":")))
                else:
                    result[key] = self.json(member, report)
            return result
        if isinstance(value, int) and not isinstance(value, bool):
            # An integer is read as its digits (a card number given as a JSON number), as in
            # the Rust policy.
            digits = str(value)
            redacted = self.text(digits, report)
            return value if redacted == digits else redacted
        return value

    def value(self, value, report):
        if isinstance(value, Value_Str):
            return Value_Str(self.text(value.value, report))
        if isinstance(value, Value_StrArray):
            return Value_StrArray([self.text(v, report) for v in value.value])
        if isinstance(value, Value_Json):
            try:
                parsed = json.loads(value.value)
            except ValueError:
                return Value_Json(self.text(value.value, report))
            return Value_Json(json.dumps(self.json(parsed, report), separators=(",", ":"), ensure_ascii=False))
        return value

    def attributes(self, attributes, report, allowed_keys=True):
        kept = []
        for attribute in attributes:
            if allowed_keys and self.allowed is not None and attribute.key not in self.allowed:
                report.key(attribute.key, "not_allowed")
                continue
            if self.key_blocked(attribute.key):
                report.key(attribute.key, "blocked_key")
                whole = attribute.value.value if isinstance(attribute.value, (Value_Str, Value_Json)) else repr(attribute.value)
                kept.append(Attribute(attribute.key, Value_Str(self.replacement("blocked_key", str(whole)))))
                continue
            before = report.count
            value = self.value(attribute.value, report)
            if report.count > before:
                report.keys.add(attribute.key)
            kept.append(Attribute(attribute.key, value))
        return kept

    def apply(self, span):
        """The span's verdict: `keep` when nothing was found (the host passes on the span it
        holds, unchanged), else `replace` with the redacted span."""
        report = Report()
        span.name = self.text(span.name, report)
        span.attributes = self.attributes(span.attributes, report)
        for event in span.events:
            event.attributes = self.attributes(event.attributes, report)
        for link in span.links:
            link.attributes = self.attributes(link.attributes, report)
        if isinstance(span.status, SpanStatus_Error):
            span.status = SpanStatus_Error(self.text(span.status.value, report))
        if report.count and self.summary != "none":
            span.attributes.append(Attribute("agentrace.redaction.count", Value_Int(report.count)))
            span.attributes.append(Attribute("agentrace.redaction.kinds", Value_StrArray(sorted(report.kinds))))
            if self.summary == "keys":
                span.attributes.append(Attribute("agentrace.redaction.keys", Value_StrArray(sorted(report.keys))))
        return Verdict_Replace(span) if report.count else Verdict_Keep()

    def sender_attributes(self, attributes):
        """A received resource's or scope's attributes: `None` when nothing was found, else the
        redacted ones. Not the allowed keys (they name span attributes) and no summary, as in
        the Rust policy."""
        report = Report()
        redacted = self.attributes(attributes, report, allowed_keys=False)
        return redacted if report.count else None


class Report:
    """What was redacted in one span."""

    def __init__(self):
        self.count = 0
        self.kinds = set()
        self.keys = set()

    def found(self, kind):
        self.count += 1
        self.kinds.add(kind)

    def key(self, key, kind):
        self.found(kind)
        self.keys.add(key)


class Policy(exports.Policy):
    def info(self):
        return PolicyInfo("python-redact", "0.1.0")

    def apply(self, spans):
        try:
            rules = Rules()
            return [rules.apply(span) for span in spans]
        except Err:
            raise
        except Exception as e:  # the host fails the batch closed and shows this reason
            raise Err(f"python-redact failed: {e!r}: {traceback.format_exc(limit=3)}")


class Grouping(exports.Grouping):
    def grouping(self):
        return SpanGrouping.BATCHES


class SenderAttributes(exports.SenderAttributes):
    """The attributes of received resources and scopes, redacted as a span's are."""

    def apply_to_attributes(self, of, attributes):
        try:
            return Rules().sender_attributes(attributes)
        except Err:
            raise
        except Exception as e:
            raise Err(f"python-redact failed: {e!r}: {traceback.format_exc(limit=3)}")
