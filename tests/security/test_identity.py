"""engine/identity.py: password strength, phone numbers, identity documents, names and masks.

Every refusal is checked for the field it names and for not repeating what was typed.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyun.engine.identity import (
    MAX_NAME_CHARS,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    PROVINCE_CODES,
    DocumentType,
    check_password,
    check_person_name,
    id_check_char,
    mask_document,
    mask_name,
    mask_phone,
    normalize_document,
    normalize_phone,
    parse_document_type,
)
from keyun.engine.reasons import Reason, Rejected

# The example of GB 11643-1999 itself (Beijing Chaoyang, born 1949-12-31, check character X).
STANDARD_ID = "11010519491231002X"
# A Hong Kong resident's residence permit: region 810000, born 1990-01-01.
RESIDENCE_PERMIT = "81000019900101" + "123"
RESIDENCE_PERMIT += id_check_char(RESIDENCE_PERMIT)


def refused(call, *args, **kwargs) -> Rejected:
    with pytest.raises(Rejected) as caught:
        call(*args, **kwargs)
    assert caught.value.rejection.reason is Reason.INVALID_FIELD
    return caught.value


def assert_not_echoed(error: Rejected, secret: str) -> None:
    rejection = error.rejection
    shown = rejection.message + "".join(value for _, value in rejection.facts) + str(error)
    assert secret not in shown, shown


# -- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password", ["Abcdefg1", "abcdefg1!", "ABCDEFG1 ", "密码很长很长Ab1", "correct horse Battery", "x" * 100 + "A1"]
)
def test_strong_passwords_pass(password):
    assert check_password(password) is None


def test_length_limits_are_inclusive():
    assert check_password("Ab1" + "x" * (MIN_PASSWORD_CHARS - 3)) is None
    assert check_password("Ab1" + "x" * (MAX_PASSWORD_CHARS - 3)) is None
    short = check_password("Ab1" + "x" * (MIN_PASSWORD_CHARS - 4))
    long = check_password("Ab1" + "x" * (MAX_PASSWORD_CHARS - 2))
    assert short.reason is long.reason is Reason.WEAK_PASSWORD
    assert str(MIN_PASSWORD_CHARS) in short.message and str(MAX_PASSWORD_CHARS) in long.message
    assert short.fact("field") == long.fact("field") == "password"


@pytest.mark.parametrize(
    "password, missing",
    [
        ("zqxjkvbwmp", "upper,digit,other"),
        ("zqxjkvbw12", "upper,other"),
        ("ZQXJKVBW12", "lower,other"),
        ("12345678!!", "lower,upper"),
        ("zqxjKVBWmp", "digit,other"),
    ],
)
def test_too_few_classes_name_what_is_missing(password, missing):
    rejection = check_password(password)
    assert rejection.reason is Reason.WEAK_PASSWORD
    assert rejection.fact("missing") == missing
    assert rejection.fact("field") == "password"
    wanted = {"lower": "lower-case", "upper": "upper-case", "digit": "digits", "other": "symbols"}
    for kind in missing.split(","):
        assert wanted[kind] in rejection.message
    assert password not in rejection.message


def test_control_characters_are_refused():
    rejection = check_password("Abcdefg1\x00")
    assert rejection.reason is Reason.WEAK_PASSWORD and "control" in rejection.message
    assert check_password("Abc\tdefg1").reason is Reason.WEAK_PASSWORD


def stand_in(ch: str) -> str:
    """A character of the same kind as `ch`, as check_password sorts them."""
    if unicodedata.category(ch).startswith("C"):
        return "\x00"
    return "a" if ch.islower() else "A" if ch.isupper() else "1" if ch.isdigit() else "!"


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=150))
def test_a_verdict_depends_only_on_the_kinds_of_characters(password):
    # Replacing every character by a stand-in of its kind gives the same verdict, so nothing of
    # the password itself can be in the message or the facts.
    assert check_password(password) == check_password("".join(stand_in(ch) for ch in password))


@given(
    st.lists(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=40),
    st.lists(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=40),
    st.lists(st.sampled_from("0123456789"), min_size=1, max_size=40),
    st.randoms(use_true_random=False),
)
def test_three_classes_and_enough_characters_always_pass(lower, upper, digits, rng):
    chars = lower + upper + digits + ["x"] * max(0, MIN_PASSWORD_CHARS - len(lower) - len(upper) - len(digits))
    rng.shuffle(chars)
    assert check_password("".join(chars)) is None


# -- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "8613812345678",
        "0086 138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_phone_numbers_normalize(text):
    assert normalize_phone(text) == "13812345678"


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "1381234567a",
        "+85213812345678",
        "+86",
        "",
        "02512345678",
        "1" * 40,
        "138.1234.5678",
    ],
)
def test_bad_phone_numbers_are_refused_without_echo(text):
    error = refused(normalize_phone, text)
    assert error.rejection.fact("field") == "phone"
    if len(text) >= 4:
        assert_not_echoed(error, text.strip())


@given(st.sampled_from("3456789"), st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_mainland_mobile_number_passes(second, rest):
    assert normalize_phone(f"+86 1{second}{rest}") == f"1{second}{rest}"


# -- document types ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DocumentType))
def test_document_types_parse_by_name_in_any_case(kind):
    assert parse_document_type(kind.name) is kind
    assert parse_document_type(f" {kind.name.lower()} ") is kind
    assert kind.label  # every type has its Chinese name for printouts


@pytest.mark.parametrize("text", ["", "ID", "RESIDENT", "居民身份证x", "PASSPORTS"])
def test_unknown_document_types_are_refused(text):
    assert refused(parse_document_type, text).rejection.fact("field") == "document_type"


# -- resident identity cards ------------------------------------------------------------------


def test_the_standard_example_is_valid_and_normalized():
    assert normalize_document(DocumentType.RESIDENT_ID, STANDARD_ID) == STANDARD_ID
    assert normalize_document(DocumentType.RESIDENT_ID, f"  {STANDARD_ID.lower()} ") == STANDARD_ID
    full_width = STANDARD_ID.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789X"})
    assert normalize_document(DocumentType.RESIDENT_ID, full_width) == STANDARD_ID


def with_check(first17: str) -> str:
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    "number, why",
    [
        ("110105194912310021", "check character"),
        ("11010519491231002", "18 characters"),
        ("11010519491231002XX", "18 characters"),
        ("1101051949123100AX", "17 digits"),
        ("110105194912310", "15-digit"),
        (with_check("11010518991231002"), "birth date"),
        (with_check("11010521010101002"), "birth date"),
        (with_check("11010519490229002"), "birth date"),
        (with_check("11010519491301002"), "birth date"),
        (with_check("11010519490100002"), "birth date"),
        (with_check("10010519491231002"), "region"),
        (with_check("99010519491231002"), "region"),
        (with_check("72010519491231002"), "region"),
    ],
)
def test_bad_resident_ids_are_refused_with_a_reason_and_without_the_number(number, why):
    error = refused(normalize_document, DocumentType.RESIDENT_ID, number)
    assert why in error.rejection.message
    assert error.rejection.fact("field") == "document_number"
    assert_not_echoed(error, number)
    assert_not_echoed(error, number[6:14])  # nor the birth date inside it


def test_a_leap_day_and_the_year_limits_are_valid_birth_dates():
    for birth in ("20000229", "19000101", "21001231"):
        number = with_check(f"440301{birth}123")
        assert normalize_document(DocumentType.RESIDENT_ID, number) == number


def test_the_caller_names_the_field():
    error = refused(normalize_document, DocumentType.RESIDENT_ID, "123", field="passengers[1].document_number")
    assert error.rejection.fact("field") == "passengers[1].document_number"
    assert error.rejection.message.startswith("passengers[1].document_number: ")


@st.composite
def resident_ids(draw) -> str:
    region = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    rest_of_region = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    return with_check(f"{region}{rest_of_region}{born:%Y%m%d}{sequence}")


@given(resident_ids())
def test_any_well_formed_id_with_its_check_character_passes(number):
    assert normalize_document(DocumentType.RESIDENT_ID, number) == number


@given(resident_ids(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_character_change_is_refused(number, position, replacement):
    changed = number[:position] + replacement + number[position + 1 :]
    if changed == number:
        return
    # MOD 11-2 catches every single substitution: the weights are non-zero modulo the prime 11.
    error = refused(normalize_document, DocumentType.RESIDENT_ID, changed)
    assert_not_echoed(error, changed)


# -- other documents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, number, canonical",
    [
        (DocumentType.PASSPORT, "E12345678", "E12345678"),
        (DocumentType.PASSPORT, "ea1234567", "EA1234567"),
        (DocumentType.PASSPORT, "G12345678", "G12345678"),
        (DocumentType.PASSPORT, " 533380006 ", "533380006"),  # a foreign passport, digits only
        (DocumentType.PASSPORT, "X12A45", "X12A45"),
        (DocumentType.PASSPORT, "A" * 20, "A" * 20),
        (DocumentType.HK_MACAU_PERMIT, "H12345678", "H12345678"),
        (DocumentType.HK_MACAU_PERMIT, "m1234567890", "M1234567890"),
        (DocumentType.TAIWAN_PERMIT, "12345678", "12345678"),
        (DocumentType.HMT_RESIDENCE_PERMIT, RESIDENCE_PERMIT, RESIDENCE_PERMIT),
    ],
)
def test_other_documents_normalize(kind, number, canonical):
    assert normalize_document(kind, number) == canonical


@pytest.mark.parametrize(
    "kind, number",
    [
        (DocumentType.PASSPORT, "E1234"[:4]),
        (DocumentType.PASSPORT, "A" * 21),
        (DocumentType.PASSPORT, "E1234-5678"),
        (DocumentType.PASSPORT, "E1234 5678"),
        (DocumentType.PASSPORT, "护照12345"),
        (DocumentType.HK_MACAU_PERMIT, "H1234567"),
        (DocumentType.HK_MACAU_PERMIT, "H123456789"),
        (DocumentType.HK_MACAU_PERMIT, "X12345678"),
        (DocumentType.HK_MACAU_PERMIT, "12345678"),
        (DocumentType.TAIWAN_PERMIT, "1234567"),
        (DocumentType.TAIWAN_PERMIT, "T1234567"),
        (DocumentType.HMT_RESIDENCE_PERMIT, STANDARD_ID),  # a valid resident ID, but not a permit
        (DocumentType.HMT_RESIDENCE_PERMIT, RESIDENCE_PERMIT[:-1] + ("0" if RESIDENCE_PERMIT[-1] != "0" else "1")),
        (DocumentType.PASSPORT, ""),
        (DocumentType.TAIWAN_PERMIT, "1" * 65),
    ],
)
def test_bad_other_documents_are_refused_without_the_number(kind, number):
    error = refused(normalize_document, kind, number)
    assert kind.label in error.rejection.message or "longer than" in error.rejection.message
    if len(number) >= 4:
        assert_not_echoed(error, number)


@given(st.sampled_from(list(DocumentType)), st.text(max_size=30))
def test_documents_are_either_refused_or_canonical(kind, text):
    try:
        canonical = normalize_document(kind, text)
    except Rejected as error:
        assert error.rejection.fact("field") == "document_number"
        return
    assert canonical == canonical.strip().upper() and canonical.isascii()
    assert normalize_document(kind, canonical) == canonical  # normalizing twice changes nothing


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [
        ("张三", "张三"),
        ("  Li Lei ", "Li Lei"),
        ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),
        ("x" * MAX_NAME_CHARS, "x" * MAX_NAME_CHARS),
        ("e\u0301", "\u00e9"),
    ],
)
def test_names_are_trimmed_and_kept(text, name):
    assert check_person_name(text) == name


@pytest.mark.parametrize(
    "text", ["", "   ", "x" * (MAX_NAME_CHARS + 1), "张\x00三", "张\n三", "Li\u2028Lei", "\x1b[31mred"]
)
def test_bad_names_are_refused(text):
    error = refused(check_person_name, text)
    assert error.rejection.fact("field") == "name"
    if len(text.strip()) >= 4:
        assert_not_echoed(error, text.strip())


# -- masks ------------------------------------------------------------------------------------


def test_masks_of_the_examples():
    assert mask_document("110101199003071234") == "110101********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张**"
    assert mask_name("Li") == "L*"
    assert mask_name("张") == "*"
    assert mask_name("") == ""


@pytest.mark.parametrize(
    "number, masked",
    [
        ("E12345678", "E******78"),
        ("H1234567890", "H1*******90"),
        ("12345678", "1*****78"),
        ("ABCDEFGHIJKLMNOPQRST", "AB***************RST"),
        ("AB123", "A***3"),
        ("1234", "****"),
    ],
)
def test_masks_of_short_documents(number, masked):
    assert mask_document(number) == masked


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=30).filter(lambda s: len(s) != 18))
def test_short_masks_reveal_at_most_forty_percent(number):
    masked = mask_document(number)
    assert len(masked) == len(number)
    revealed = sum(1 for original, shown in zip(number, masked) if shown != "*")
    assert revealed <= 0.4 * len(number)
    assert all(shown in ("*", original) for original, shown in zip(number, masked))


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_phone_masks_hide_the_middle_four(phone):
    masked = mask_phone(phone)
    assert masked[:3] == phone[:3] and masked[-4:] == phone[-4:] and masked[3:7] == "****"


def test_a_phone_of_another_length_is_masked_like_a_short_number():
    assert mask_phone("8613812345678").count("*") >= 8
