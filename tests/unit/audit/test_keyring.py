"""The audit key, the writer MAC and checkpoint signatures (audit/keyring.py, audit/chain.py)."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from fhir_server.audit.chain import check_checkpoint
from fhir_server.audit.events import build_audit_record, new_record_id
from fhir_server.audit.keyring import AuditKeyMissing, link, load_key, row_mac, sign

KEY = b"k" * 32
ROW = ("id-1", datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "R", "read", "0", "app", "Practitioner/dr",
       ["Patient/pa"], ["Patient/pa"], "req-1", {"resourceType": "AuditEvent", "n": Decimal("1.50")})


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit.key"
    with pytest.raises(AuditKeyMissing):
        load_key(None, path, create=False)  # verify never invents a key
    key = load_key(None, path, create=True)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, path, create=True) == key  # kept, not replaced
    assert load_key("x" * 32, path, create=True) == b"x" * 32  # FHIR_AUDIT_KEY wins
    with pytest.raises(ValueError, match="at least 32"):
        load_key("short", path, create=True)


def test_row_mac_covers_every_column_and_not_number_spelling() -> None:
    mac = row_mac(KEY, ROW)
    # jsonb gives 1.50 back as written but 1e2 as 100: spelling must not matter, value must.
    assert row_mac(KEY, (*ROW[:10], {"resourceType": "AuditEvent", "n": 1.5})) == mac
    assert row_mac(KEY, (*ROW[:10], {"n": 100, "resourceType": "AuditEvent"})) == \
        row_mac(KEY, (*ROW[:10], {"resourceType": "AuditEvent", "n": Decimal("1E+2")}))
    assert row_mac(KEY, (*ROW[:10], {"resourceType": "AuditEvent", "n": "1.5"})) != mac  # a string is not a number
    for index, changed in ((4, "8"), (6, "Practitioner/x"), (7, []), (1, ROW[1].replace(microsecond=679000))):
        assert row_mac(KEY, (*ROW[:index], changed, *ROW[index + 1:])) != mac
    assert row_mac(b"j" * 32, ROW) != mac


def test_links_are_keyed() -> None:
    prev = b"\x00" * 32
    assert link(KEY, prev, "(row)", b"m") != link(b"j" * 32, prev, "(row)", b"m")
    assert link(KEY, prev, "(row)", b"m") != link(KEY, prev, "(row)", b"n")  # the writer MAC is chained too
    assert link(None, prev, "(row)", None) == hashlib.sha256(prev + b"(row)").digest()


def test_records_carry_a_writer_mac_and_random_ids() -> None:
    record = build_audit_record(subtype="read", outcome="0", outcome_desc=None, client_id="c", user_ref=None,
                                server_url="http://x/fhir", key=KEY)
    assert record.mac == row_mac(KEY, record.columns())
    ids = {new_record_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(i[14] == "4" and i[19] in "89ab" for i in ids)  # RFC 9562 version 4


def test_checkpoint_signature() -> None:
    text = "fhir-server-audit-checkpoint/1|7|ab|2026-01-01T00:00:00Z"
    data = {"format": "fhir-server-audit-checkpoint/1", "chain_seq": 7, "head": "ab", "time": "2026-01-01T00:00:00Z",
            "hmac": sign(KEY, text)}
    assert check_checkpoint(data, KEY).chain_seq == 7
    for bad in ({**data, "chain_seq": 6}, {**data, "head": "ac"}, {**data, "hmac": sign(b"j" * 32, text)}):
        with pytest.raises(ValueError, match="signature"):
            check_checkpoint(bad, KEY)
    with pytest.raises(ValueError, match="not an audit checkpoint"):
        check_checkpoint({"chain_seq": "x"}, KEY)
