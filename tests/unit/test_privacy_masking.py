"""Masking identifiers in transcripts, event details and log lines."""

import io
import logging
from pathlib import Path

import pytest

from ivr.privacy import PrivacyConfigError
from ivr.privacy.masking import (
    DEFAULT_PATTERNS,
    Masker,
    MaskingFilter,
    digits_of,
    install_log_masking,
    mask_number,
    uninstall_log_masking,
)

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def masker():
    return Masker.default()


def test_transcript_with_phone_and_id_keeps_neither(masker):
    text = "my number is 138 0013 8000 and ID 11010519491231002X"
    out = masker.mask(text)
    assert out == "my number is [PHONE …00] and ID [ID]"
    for raw in ("138 0013 8000", "13800138000", "0013", "11010519491231002X", "491231"):
        assert raw not in out


@pytest.mark.parametrize(("text", "expected"), [
    ("call me on 13800138000.", "call me on [PHONE …00]."),
    ("号码13800138000谢谢", "号码[PHONE …00]谢谢"),
    ("+86 138-0013-8000", "[PHONE …00]"),
    ("0086 13800138000", "[PHONE …00]"),
    ("Local/13800138000@sim-patient-00000001;1", "Local/[PHONE …00]@sim-patient-00000001;1"),
    ("+1 (415) 555-1234", "[PHONE …34]"),
    ("tel: +44 20 7946 0958", "tel: [PHONE …58]"),
    ("010-62345678", "[PHONE …78]"),
    ("(0755) 8765 4321", "[PHONE …21]"),
    ("call 555-1234 today", "call [PHONE …34] today"),
    ("8765 4321", "[PHONE …21]"),
    ("两个电话 138 0013 8000 139 0013 9001", "两个电话 [PHONE …00] [PHONE …01]"),
    ("ID 110105491231002", "ID [ID]"),
    ("身份证110105 19491231 002x", "身份证[ID]"),
    ("1101 0519 4912 3100 2X", "[ID]"),
    ("MRN: 00123456", "[MRN]"),
    ("mrn#12345678 seen", "[MRN] seen"),
    ("病历号：12345678", "[MRN]"),
    ("住院号是 H1234567", "[MRN]"),
    ("一三八零零一三八零零零", "[PHONE …00]"),
    ("幺 三 八 零 零 幺 三 八 零 零 零", "[PHONE …00]"),
    ("one three eight zero zero one three eight zero zero zero", "[PHONE …00]"),
])
def test_identifiers_are_masked(masker, text, expected):
    assert masker.mask(text) == expected


def test_masking_twice_changes_nothing_more(masker):
    text = "138 0013 8000, +44 20 7946 0958, ID 11010519491231002X, MRN 12345678, 555-1234"
    once = masker.mask(text)
    assert masker.mask(once) == once


def test_full_width_digits_match_but_the_rest_of_the_text_is_kept(masker):
    assert masker.mask("电话：１３８－００１３－８０００。") == "电话：[PHONE …00]。"
    assert masker.mask("ＭＲＮ：１２３４５６７８，谢谢") == "[MRN]，谢谢"
    assert masker.mask("号码是０１０－６２３４５６７８吗") == "号码是[PHONE …78]吗"


def test_the_tail_tells_two_numbers_apart(masker):
    out = masker.mask("first 13800138000, then 13900139011")
    assert out == "first [PHONE …00], then [PHONE …11]"


@pytest.mark.parametrize("text", [
    "press 2",
    "39.5",
    "体温39.5度，烧了三天",
    "2026-11-26",
    "26/11/2026",
    "2026-11-26T10:30:00+08:00",
    "2026-11-26 10:30:00,123 appointment",
    "uniqueid 1732612345.42",
    "PJSIP/1001-00000002",
    "Local/press9@sim-patient-00000002;1",
    "127.0.0.1:4573",
    "192.168.100.200",
    "version 1.6.8",
    "took 1234 ms",
    "1,234,567 calls",
    "call 550e8400-e29b-41d4-a716-446655440000",
    "queue position 3 of 12, room 301 bed 12",
    "BP 120/80 HR 72",
    "10:30-11:45",
    "三十九度五",
    "一两天了",
    "Thank you for calling City Hospital.",
    "",
])
def test_text_without_identifiers_is_unchanged(masker, text):
    assert masker.mask(text) == text


def test_mask_value_walks_json_and_copies(masker):
    detail = {"caller": "13800138000", "digits": 13800138000, "queue": "pharmacy",
              "turns": [{"text": "病历号12345678"}, ("ok", 2)], "urgency": 2, "ok": True,
              "score": 0.93, "none": None, "13800138000": "key kept"}
    out = masker.mask_value(detail)
    assert out == {"caller": "[PHONE …00]", "digits": "[PHONE …00]", "queue": "pharmacy",
                   "turns": [{"text": "[MRN]"}, ("ok", 2)], "urgency": 2, "ok": True,
                   "score": 0.93, "none": None, "13800138000": "key kept"}
    assert detail["caller"] == "13800138000"  # the input is not modified


def test_mask_number_display_form():
    assert mask_number("13800138000") == "138******00"
    assert mask_number("+86 138-0013-8000") == "861********00"
    assert mask_number("1234") == "****"
    assert mask_number("") == "unknown"


def test_digits_of_spoken_forms():
    assert digits_of("幺三八 one two ３") == "138123"


# --- configuration -----------------------------------------------------------------------

def test_shipped_privacy_yaml_has_the_built_in_rules():
    shipped = Masker.from_file(ROOT / "privacy.yaml")
    assert [(r.name, r.pattern.pattern, r.replacement, r.min_digits) for r in shipped.rules] \
        == list(DEFAULT_PATTERNS)


def test_missing_file_means_built_in_rules(tmp_path):
    assert len(Masker.from_file(tmp_path / "nope.yaml").rules) == len(DEFAULT_PATTERNS)


def test_from_config_uses_only_the_given_patterns():
    m = Masker.from_config({"patterns": [
        {"name": "ticket", "regex": r"T-[0-9]{4}", "replacement": "[TICKET]"},
        {"name": "phone", "regex": r"[0-9]{7,}", "replacement": "[PHONE {tail}]",
         "min_digits": 7},
    ]})
    assert m.mask("T-1234 13800138000 T-12") == "[TICKET] [PHONE 00] T-12"


def test_bad_pattern_is_reported_with_file_line_and_key(tmp_path):
    path = tmp_path / "privacy.yaml"
    path.write_text("masking:\n  patterns:\n"
                    "    - name: ok\n      regex: '[0-9]{7}'\n      replacement: '[X]'\n"
                    "    - name: broken\n      regex: '([0-9]'\n      replacement: '[X]'\n"
                    "      min_digit: 3\n")
    with pytest.raises(PrivacyConfigError) as err:
        Masker.from_file(path)
    text = str(err.value)
    # positions point at the key, as in flow diagnostics
    assert f"{path}:7:7: masking.patterns[1].regex: invalid regular expression" in text
    assert f"{path}:9:7: masking.patterns[1].min_digit: Extra inputs are not permitted" in text


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("masking:\n  patterns: []\n", "masking.patterns: List should have at least 1 item"),
    ("masking:\n  patterns:\n    - {name: a, regex: x, replacement: y}\n"
     "    - {name: a, regex: z, replacement: y}\n", "pattern names must be unique: a"),
    ("mask:\n  patterns: []\n", "mask: unknown section"),
    ("masking: [\n", "invalid YAML"),
])
def test_config_errors(tmp_path, yaml_text, message):
    path = tmp_path / "privacy.yaml"
    path.write_text(yaml_text)
    with pytest.raises(PrivacyConfigError, match=message) as err:
        Masker.from_file(path)
    assert str(path) in str(err.value)


# --- logging -----------------------------------------------------------------------------

@pytest.fixture
def log_masking(masker):
    install_log_masking(masker)
    yield
    uninstall_log_masking()


@pytest.fixture
def root_stream():
    """A handler on the root logger, added after masking was installed."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    yield out, handler
    logging.getLogger().removeHandler(handler)


def _child() -> logging.Logger:
    log = logging.getLogger("ivr.test_privacy.child")
    log.setLevel(logging.INFO)
    return log


def test_child_logger_lines_come_out_masked(log_masking, root_stream, caplog):
    out, _ = root_stream
    _child().info("caller %s asked about %s", "13800138000", {"id": "11010519491231002X"})
    _child().info("named %(num)s", {"num": "138 0013 8000"})
    written = out.getvalue()
    assert "ivr.test_privacy.child caller [PHONE …00] asked about {'id': '[ID]'}" in written
    assert "named [PHONE …00]" in written
    for text in (written, caplog.text):
        assert "13800138000" not in text and "0013 8000" not in text
        assert "11010519491231002X" not in text


def test_tracebacks_are_masked_too(log_masking, root_stream):
    out, _ = root_stream
    try:
        raise ValueError("no patient for 13800138000")
    except ValueError:
        _child().exception("lookup failed")
    assert "ValueError: no patient for [PHONE …00]" in out.getvalue()
    assert "13800138000" not in out.getvalue()


def test_bad_format_args_do_not_raise_and_stay_masked(log_masking, root_stream):
    out, _ = root_stream
    _child().info("two %s %s", "13800138000")
    assert "13800138000" not in out.getvalue()
    assert "[PHONE …00]" in out.getvalue()


def test_installing_twice_does_not_wrap_twice(masker):
    before = logging.getLogRecordFactory()
    install_log_masking(masker)
    install_log_masking(Masker([]))
    uninstall_log_masking()
    assert logging.getLogRecordFactory() is before


def test_without_masking_the_line_is_raw(root_stream):
    """The control for the tests above: masking is what changes the output."""
    out, _ = root_stream
    _child().info("caller %s", "13800138000")
    assert "caller 13800138000" in out.getvalue()


def test_filter_on_a_handler_masks_records_from_child_loggers(masker, root_stream):
    out, handler = root_stream
    handler.addFilter(MaskingFilter(masker))
    _child().warning("call back %s", "+86 138 0013 8000")
    assert "call back [PHONE …00]" in out.getvalue()
    assert "0013" not in out.getvalue()


def test_an_identifier_joined_by_dashes_is_not_a_phone_number():
    from ivr.privacy.masking import DEFAULT_PATTERNS, Masker, Rule

    masker = Masker([Rule.compile(*p) for p in DEFAULT_PATTERNS])
    uuid = "adf289df-7256-4604-bb78-19dc685401fc"  # a follow-up id in a record's detail
    assert masker.mask(f"follow-up {uuid}") == f"follow-up {uuid}"
    assert "[PHONE" in masker.mask("call me on 0207 946 0958")
