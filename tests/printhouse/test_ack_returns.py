"""``printhouse ack`` and ``printhouse returns`` check what they are told against the batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch import batchformat as bf
from dispatch.transports.outbox import LocalOutbox, read_returns
from tests.printhouse.factories import Keys, make_keys, seal
from tests.printhouse.scenario import collect, printhouse

HEADER = "batch_id,sequence_no,reason\n"


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def outbox(tmp_path: Path, keys: Keys) -> LocalOutbox:
    """An outbox holding one complete batch ``b0001`` of three letters."""
    box = LocalOutbox(tmp_path / "outbox")
    sealed = seal(keys, "b0001", letters=3)
    box.put_batch("b0001", sealed.encrypted_pdf, sealed.manifest, sealed.signature)
    return box


def url(outbox: LocalOutbox) -> str:
    return f"file://{outbox.root}"


def _one_line(err: str) -> str:
    [line] = err.strip().splitlines()
    assert "Traceback" not in line
    return line


# -- ack ----------------------------------------------------------------------------------


def test_ack_of_a_batch_that_is_not_there_is_bad_input(outbox: LocalOutbox) -> None:
    run = printhouse("ack", "b0009", "--outbox", url(outbox))

    assert run.code == 2
    assert _one_line(run.err) == f"printhouse: no batch b0009 in {url(outbox)}"
    assert printhouse("ack", "../b", "--outbox", url(outbox)).code == 2


def test_ack_of_an_incomplete_batch_fails(outbox: LocalOutbox) -> None:
    (outbox.root / "b0001" / bf.COMPLETE).unlink()

    run = printhouse("ack", "b0001", "--outbox", url(outbox))

    assert run.code == 1
    assert "batch b0001 is not complete yet" in _one_line(run.err)
    assert not (outbox.root / "b0001" / bf.ACK).exists()


def test_ack_refuses_more_letters_than_the_batch_has(outbox: LocalOutbox) -> None:
    run = printhouse("ack", "b0001", "--outbox", url(outbox), "--letters", "4")

    assert run.code == 2
    assert _one_line(run.err) == (
        "printhouse: --letters: batch b0001 has 3 letters; 4 cannot have been accepted"
    )
    assert outbox.read_ack("b0001") is None


def test_ack_refuses_to_overwrite_an_acknowledgement_unless_forced(outbox: LocalOutbox) -> None:
    first = printhouse("ack", "b0001", "--outbox", url(outbox), "--letters", "2")
    assert first.code == 0, first.err
    assert first.out.strip() == "acknowledged b0001 (2 of 3 letters)"

    again = printhouse("ack", "b0001", "--outbox", url(outbox))

    assert again.code == 1
    line = _one_line(again.err)
    assert "batch b0001 was acknowledged already on" in line and "(2 letters)" in line
    assert "--force" in line
    assert bf.Ack.parse(outbox.read_ack("b0001") or b"").letters_accepted == 2

    forced = printhouse("ack", "b0001", "--outbox", url(outbox), "--force", "--json")

    assert forced.code == 0, forced.err
    assert forced.json() == {
        "batch_id": "b0001",
        "letters_accepted": 3,
        "letter_count": 3,
        "received_at": forced.json()["received_at"],
        "replaced": True,
    }
    assert bf.Ack.parse(outbox.read_ack("b0001") or b"").letters_accepted == 3


# -- returns ------------------------------------------------------------------------------


def _report(tmp_path: Path, outbox: LocalOutbox, body: str, *extra: str) -> tuple[int, str]:
    csv_file = tmp_path / "returns.csv"
    csv_file.write_text(body)
    run = printhouse("returns", str(csv_file), "--outbox", url(outbox), *extra)
    return run.code, run.err


def test_returns_csv_reaches_the_dispatcher(outbox: LocalOutbox, tmp_path: Path) -> None:
    csv_file = tmp_path / "returns.csv"
    csv_file.write_text(HEADER + "b0001,2,moved\nb0001,3,unknown_address\n")

    run = printhouse("returns", str(csv_file), "--outbox", url(outbox), "--json")

    assert run.code == 0, run.err
    doc = run.json()
    assert doc["reported"] == 2 and str(doc["report"]).startswith("returns/")
    assert list(read_returns(outbox)) == [("b0001", 2, "moved"), ("b0001", 3, "unknown_address")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("batch,seq,why\nb0001,1,moved\n", "returns.csv:1: header must be"),
        (HEADER + "b0001,x,moved\n", "returns.csv:2: sequence_no: 'x' is not a whole number"),
        (HEADER + "b0001,0,moved\n", "returns.csv:2: sequence_no: must be 1 or more"),
        (HEADER + "b0001,,moved\n", "returns.csv:2: sequence_no: missing"),
        (HEADER + "b0001,1,moved\nb0001,2,because\n", "returns.csv:3: reason: 'because' is not"),
        (HEADER + "b/1,1,moved\n", "returns.csv:2: batch_id: 'b/1' is not a batch id"),
        (HEADER + "b0001,1\n", "returns.csv:2: expected 3 columns"),
        (
            HEADER + "b0001,1,moved\nb0001,1,moved\n",
            "returns.csv:3: letter 1 of batch b0001 is reported twice (first on line 2)",
        ),
        (HEADER + "b0001,4,moved\n", "returns.csv:2: sequence_no: batch b0001 has 3 letters"),
        (HEADER + "b0002,1,moved\n", "returns.csv:2: batch_id: no batch 'b0002'"),
    ],
)
def test_a_bad_row_is_refused_with_its_line_and_field(
    outbox: LocalOutbox, tmp_path: Path, body: str, message: str
) -> None:
    code, err = _report(tmp_path, outbox, body)

    assert code == 2
    lines = err.strip().splitlines()
    assert any(message in line for line in lines), err
    assert "invalid literal" not in err and "Traceback" not in err
    assert lines[-1].endswith("nothing reported")
    assert not (outbox.root / "returns").exists()


def test_every_bad_row_is_reported_in_one_run(outbox: LocalOutbox, tmp_path: Path) -> None:
    body = HEADER + "b0001,x,lost\nb0001,1,moved\nb0001,9,moved\nb0003,1,moved\n"

    code, err = _report(tmp_path, outbox, body)

    where = tmp_path / "returns.csv"
    assert code == 2
    assert err.strip().splitlines() == [
        f"printhouse: {where}:2: reason: 'lost' is not a return reason; "
        "use one of moved, other, refused, undeliverable, unknown_address",
        f"printhouse: {where}:2: sequence_no: 'x' is not a whole number "
        "(the letter's number in its batch)",
        f"printhouse: {where}:4: sequence_no: batch b0001 has 3 letters; there is no letter 9",
        f"printhouse: {where}:5: batch_id: no batch 'b0003' in the outbox or the spool",
        f"printhouse: {where}: 4 problems; nothing reported",
    ]
    assert not (outbox.root / "returns").exists()


def test_returns_of_a_batch_gone_from_the_outbox_are_checked_in_the_spool(
    outbox: LocalOutbox, keys: Keys, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    assert collect(url(outbox), keys, spool).code == 0
    assert printhouse("ack", "b0001", "--outbox", url(outbox)).code == 0
    outbox.delete("b0001")  # the dispatcher deleted the acknowledged batch
    (spool / "b0001" / "letters.pdf").unlink()  # and the letters were posted

    gone, err = _report(tmp_path, outbox, HEADER + "b0001,2,moved\n")
    assert gone == 2 and "no batch 'b0001' in the outbox or the spool" in err

    beyond, err = _report(tmp_path, outbox, HEADER + "b0001,5,moved\n", "--spool", str(spool))
    assert beyond == 2 and "batch b0001 has 3 letters; there is no letter 5" in err

    ok, err = _report(tmp_path, outbox, HEADER + "b0001,2,moved\n", "--spool", str(spool))
    assert ok == 0, err
    assert list(read_returns(outbox)) == [("b0001", 2, "moved")]
