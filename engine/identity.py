"""Who a person is: password strength, phone numbers, identity documents, names, and masking.

Pure functions, no I/O and no clock: the account owner and the gateway call them to validate what
a person typed and to mask what is shown back.  Every check normalizes first (NFKC folds the
full-width digits and letters that Chinese input methods produce into ASCII), then validates.

Personal data never appears in an error message: a rejection says what is wrong with a password,
phone number, document number or name, never what was typed, because rejections travel to
clients, logs and audit records.  The mask_* functions are the only way such values are shown.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
import unicodedata
from collections.abc import Callable
from enum import Enum

from .reasons import Reason, Rejection, invalid, quote, reject

# NIST SP 800-63B asks for at least 8 characters when a password is the only secret a person
# chose; with 3 of 4 character classes that is the floor the standard's level-2 systems expect.
MIN_PASSWORD_CHARS = 8
# argon2 hashes the whole password: a bound keeps a megabyte "password" from costing CPU on every
# login attempt, and 128 characters is far past any passphrase a person types at a counter.
MAX_PASSWORD_CHARS = 128
# A password must mix at least this many of the four classes below.
MIN_PASSWORD_CLASSES = 3

# Personal names on tickets: the longest transliterated names on Chinese documents stay well
# under this, and the ticket printer and manifest columns need some bound.
MAX_NAME_CHARS = 64
# Input longer than this is not a phone number or document number with some spaces in it; it is
# refused before any normalization work is done on it.
MAX_PHONE_INPUT_CHARS = 32
MAX_DOCUMENT_INPUT_CHARS = 64

# Mainland mobile numbers: 11 digits, the second 3-9 (13x..19x), after removing a +86 prefix.
MOBILE = re.compile(r"1[3-9][0-9]{9}")
PHONE_PREFIXES = ("+86", "0086", "86")
PHONE_SEPARATORS = re.compile(r"[\s\-]")

# GB 11643-1999: the check character of an 18-character citizen identity number is ISO 7064
# MOD 11-2 over the first 17 digits with these weights.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_BODY = re.compile(r"[0-9]{17}[0-9X]")
ID_CHARS = 18
# The province-level part of the administrative division code (GB/T 2260): 71 is Taiwan, 81 and
# 82 Hong Kong and Macau, 83 the residence permits of Taiwan residents, 91 foreigners' permanent
# residence identity cards, which share the 18-character format.
PROVINCE_CODES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66), 71, 81, 82, 83, 91]
)
# Birth years outside this range are typing mistakes, not people travelling by bus.  Pure code
# cannot know today, so a future date inside the range is not refused here.
MIN_BIRTH_YEAR = 1900
MAX_BIRTH_YEAR = 2100
# 港澳台居民居住证 numbers start with the region code of Hong Kong, Macau or Taiwan.
RESIDENCE_PERMIT_REGIONS = ("810000", "820000", "830000")

# 港澳居民来往内地通行证 (home-return permit): H (Hong Kong) or M (Macau) and 8 digits on the card
# issued since 2013, or 10 digits (8 plus a 2-digit issue count) on the older booklet.
HK_MACAU_PERMIT = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
# 台湾居民来往大陆通行证: the card issued since 2015 carries an 8-digit number for life.
TAIWAN_PERMIT = re.compile(r"[0-9]{8}")
# Passports.  Chinese ordinary passports are E + 8 digits, or E + a letter + 7 digits since the
# digits ran out (EA1234567); older ones G + 8 digits.  A ticket can name a foreign passport of any
# country, and ICAO 9303 fixes only the MRZ field (9 characters, longer numbers overflowing into
# optional data); national numbering varies from 5 characters to about 20 letters and digits.
# Without the issuing country we cannot be stricter than this, and the Chinese formats above all
# fit it, so one rule serves both.
PASSPORT = re.compile(r"[A-Z0-9]{5,20}")

# Masks reveal at most this share of a short number's characters (18-character IDs follow the
# common 6 + 4 practice of Chinese ticketing and banking instead).
MASK_REVEAL_SHARE = 0.4
MASK_MAX_HEAD_CHARS = 2
MASK_MAX_TAIL_CHARS = 3
MASK = "*"


class DocumentType(Enum):
    """The identity documents a ticket can be sold against (实名制购票).  Values are stable names."""

    RESIDENT_ID = "RESIDENT_ID"
    PASSPORT = "PASSPORT"
    HK_MACAU_PERMIT = "HK_MACAU_PERMIT"
    TAIWAN_PERMIT = "TAIWAN_PERMIT"
    HMT_RESIDENCE_PERMIT = "HMT_RESIDENCE_PERMIT"

    @property
    def label(self) -> str:
        """The document's Chinese name, as printed on tickets and shown at counters."""
        return DOCUMENT_LABELS[self]


DOCUMENT_LABELS = {
    DocumentType.RESIDENT_ID: "居民身份证",
    DocumentType.PASSPORT: "护照",
    DocumentType.HK_MACAU_PERMIT: "港澳居民来往内地通行证",
    DocumentType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    DocumentType.HMT_RESIDENCE_PERMIT: "港澳台居民居住证",
}


# -- passwords --------------------------------------------------------------------------------

PASSWORD_CLASSES = ("lower-case letters", "upper-case letters", "digits", "other characters such as symbols or spaces")


def _password_class(ch: str) -> int:
    """Index into PASSWORD_CLASSES.  Letters without case (汉字) count as other characters."""
    if ch.islower():
        return 0
    if ch.isupper():
        return 1
    if ch.isdigit():
        return 2
    return 3


def check_password(password: str) -> Rejection | None:
    """None if the password is strong enough, else a WEAK_PASSWORD rejection saying what is missing.

    The message and facts never contain the password or any part of it.
    """
    chars = len(password)
    if chars < MIN_PASSWORD_CHARS:
        return _weak(f"a password needs at least {MIN_PASSWORD_CHARS} characters", min_chars=MIN_PASSWORD_CHARS)
    if chars > MAX_PASSWORD_CHARS:
        return _weak(f"a password may have at most {MAX_PASSWORD_CHARS} characters", max_chars=MAX_PASSWORD_CHARS)
    if any(unicodedata.category(ch).startswith("C") for ch in password):
        return _weak("a password may not contain control, format or unassigned characters")
    present = {_password_class(ch) for ch in password}
    if len(present) < MIN_PASSWORD_CLASSES:
        missing = [name for n, name in enumerate(PASSWORD_CLASSES) if n not in present]
        return _weak(
            f"a password needs characters of at least {MIN_PASSWORD_CLASSES} of 4 kinds; add " + " or ".join(missing),
            missing=",".join(("lower", "upper", "digit", "other")[n] for n in range(4) if n not in present),
        )
    return None


def _weak(message: str, **facts: object) -> Rejection:
    return reject(Reason.WEAK_PASSWORD, message, field="password", **facts)


# -- phone numbers ----------------------------------------------------------------------------


def normalize_phone(text: str) -> str:
    """The 11-digit mainland mobile number in `text` (which may carry +86, spaces and dashes)."""
    if len(text) > MAX_PHONE_INPUT_CHARS:
        raise invalid("phone", f"longer than {MAX_PHONE_INPUT_CHARS} characters")
    digits = PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in PHONE_PREFIXES:
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not MOBILE.fullmatch(digits):
        raise invalid("phone", "expected an 11-digit mainland mobile number starting 13 to 19, optionally after +86")
    return digits


# -- identity documents -----------------------------------------------------------------------


def parse_document_type(text: str) -> DocumentType:
    """The DocumentType named by `text` (its enum name, in any case)."""
    name = text.strip().upper()
    try:
        return DocumentType[name]
    except KeyError:
        names = ", ".join(kind.name for kind in DocumentType)
        raise invalid("document_type", f"{quote(text)} is not a document type; expected one of {names}") from None


def id_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) for 17 digits."""
    assert len(first17) == 17 and first17.isascii() and first17.isdigit(), "17 ASCII digits"
    return _check_char(first17)


def _check_char(first17: str) -> str:
    # map with operator.mul: half the time of a generator over zip (every walk-in sale checks one).
    return ID_CHECK_CHARS[sum(map(operator.mul, map(int, first17), ID_WEIGHTS)) % 11]


def normalize_document(kind: DocumentType, number: str, field: str = "document_number") -> str:
    """The document number in canonical form (NFKC, stripped, upper-case), checked for `kind`.

    Raises `invalid(field, ...)` saying what is wrong; the message never repeats the number.
    """
    if len(number) > MAX_DOCUMENT_INPUT_CHARS:
        raise invalid(field, f"longer than {MAX_DOCUMENT_INPUT_CHARS} characters")
    canonical = unicodedata.normalize("NFKC", number).strip().upper()
    if not canonical:
        raise invalid(field, f"a {kind.label} number is required")
    problem = DOCUMENT_CHECKS[kind](canonical)
    if problem is not None:
        raise invalid(field, f"not a valid {kind.label} ({kind.name}) number: {problem}")
    return canonical


def _resident_id_problem(number: str) -> str | None:
    if len(number) == 15 and number.isdigit():
        return "15-digit first-generation numbers are no longer valid; give the 18-character number"
    problem = _gb11643_problem(number)
    if problem is None and int(number[:2]) not in PROVINCE_CODES:
        return "the first two digits are not a province-level region code"
    return problem


def _residence_permit_problem(number: str) -> str | None:
    problem = _gb11643_problem(number)
    if problem is None and not number.startswith(RESIDENCE_PERMIT_REGIONS):
        return "a residence permit number starts with 810000, 820000 or 830000"
    return problem


def _gb11643_problem(number: str) -> str | None:
    """What is wrong with an 18-character GB 11643 number (shape, birth date, check), or None."""
    if len(number) != ID_CHARS:
        return f"expected {ID_CHARS} characters, got {len(number)}"
    if not ID_BODY.fullmatch(number):
        return "expected 17 digits followed by a digit or X"
    if not _plausible_birth_date(number[6:14]):
        return f"characters 7 to 14 are not a birth date (YYYYMMDD, years {MIN_BIRTH_YEAR} to {MAX_BIRTH_YEAR})"
    if _check_char(number[:17]) != number[17]:  # ID_BODY: 17 ASCII digits first
        return "the check character does not match; a character is probably mistyped"
    return None


def _plausible_birth_date(yyyymmdd: str) -> bool:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    if not MIN_BIRTH_YEAR <= year <= MAX_BIRTH_YEAR:
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _pattern_problem(pattern: re.Pattern[str], expected: str) -> Callable[[str], str | None]:
    def problem(number: str) -> str | None:
        return None if pattern.fullmatch(number) else f"expected {expected}"

    return problem


DOCUMENT_CHECKS = {
    DocumentType.RESIDENT_ID: _resident_id_problem,
    DocumentType.PASSPORT: _pattern_problem(PASSPORT, "5 to 20 letters and digits"),
    DocumentType.HK_MACAU_PERMIT: _pattern_problem(HK_MACAU_PERMIT, "H or M followed by 8 or 10 digits"),
    DocumentType.TAIWAN_PERMIT: _pattern_problem(TAIWAN_PERMIT, "8 digits"),
    DocumentType.HMT_RESIDENCE_PERMIT: _residence_permit_problem,
}
assert set(DOCUMENT_CHECKS) == set(DocumentType), "every document type has a check"


# -- names ------------------------------------------------------------------------------------

# Control characters, surrogates and line or paragraph separators: none belongs in a name, and
# each could break a printed ticket, a log line or a CSV export.
FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_person_name(text: str) -> str:
    """The trimmed name (NFC), if it has 1..MAX_NAME_CHARS characters and no control characters."""
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise invalid("name", "a name is required")
    if len(name) > MAX_NAME_CHARS:
        raise invalid("name", f"longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch) in FORBIDDEN_NAME_CATEGORIES for ch in name):
        raise invalid("name", "a name may not contain control characters or line breaks")
    return name


# -- masking ----------------------------------------------------------------------------------


def mask_document(number: str) -> str:
    """`110101********1234` for 18-character numbers; for shorter ones the first 1-2 and last 1-3
    characters, revealing at most MASK_REVEAL_SHARE of them.  Numbers of 4 characters or fewer
    are masked entirely."""
    if len(number) == ID_CHARS:
        return number[:6] + MASK * 8 + number[-4:]
    return _mask_middle(number)


def _mask_middle(text: str) -> str:
    reveal = int(len(text) * MASK_REVEAL_SHARE)
    if reveal < 2:
        return MASK * len(text)
    head = min(MASK_MAX_HEAD_CHARS, reveal // 2)
    tail = min(MASK_MAX_TAIL_CHARS, reveal - head)
    return text[:head] + MASK * (len(text) - head - tail) + text[len(text) - tail :]


def mask_phone(phone: str) -> str:
    """`138****5678` for an 11-digit mobile number; anything else is masked like a short document."""
    if len(phone) == 11:
        return phone[:3] + MASK * 4 + phone[-4:]
    return _mask_middle(phone)


def mask_name(name: str) -> str:
    """The first character, then one `*` per other character: `张**`, `L*`.  A one-character name
    is masked entirely, since showing its first character would show all of it."""
    if len(name) <= 1:
        return MASK * len(name)
    return name[0] + MASK * (len(name) - 1)
