"""POST /api/v1/manifests as a multipart/form-data upload: the CSV in the field ``file``.

The upload goes through the same checks as a raw text/csv body; a malformed form, a
missing or doubled field, a spreadsheet or a non-UTF-8 file is a 422 naming field, rule
and value, and stores nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Caller
from tests.items.test_manifests import EXAMPLES, csv_rows, example_rows, send_csv, stored

Files = list[tuple[str, tuple[str | None, bytes, str]]]


def upload(
    client: TestClient,
    who: Caller,
    files: Files,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return client.post(
        "/api/v1/manifests", files=files, data=data, headers={**who.headers, **(headers or {})}
    )


def example_csv() -> bytes:
    return (EXAMPLES / "manifest-example.csv").read_bytes()


def test_uploaded_csv_is_stored_like_a_raw_one(client: TestClient, alice: Caller) -> None:
    """The example CSV as a file part: same items, same line numbers as the raw body."""
    r = upload(client, alice, [("file", ("manifest.csv", example_csv(), "text/csv"))])
    assert r.status_code == 201, r.json()
    assert [(i["line"], i["reference"]) for i in r.json()["items"]] == [
        (2, "ORDER-1042"), (4, "ORDER-1043"), (5, "ORDER-1044")
    ]  # fmt: skip
    assert len(stored(client, alice)) == 3


@pytest.mark.parametrize("media", ["application/vnd.ms-excel", "application/octet-stream"])
def test_what_browsers_label_a_csv_with_is_accepted(
    client: TestClient, alice: Caller, media: str
) -> None:
    r = upload(client, alice, [("file", ("orders.csv", example_csv(), media))])
    assert r.status_code == 201, r.json()


def test_uploaded_csv_rows_are_checked_with_lines(client: TestClient, alice: Caller) -> None:
    """A formula cell in an uploaded file is reported by column and row; nothing stored."""
    rows = example_rows()
    rows[0]["addressee_name"] = "=HYPERLINK(1)"
    r = upload(client, alice, [("file", ("m.csv", csv_rows(rows), "text/csv"))])
    assert r.status_code == 422
    assert [(e["line"], e["field"], e["rule"]) for e in r.json()["errors"]] == [
        (2, "addressee_name", "csv_formula")
    ]
    assert stored(client, alice) == []


def _problem(r: Any) -> tuple[int, str, str, object]:
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.status_code, body["field"], body["rule"], body["value"]


def test_non_utf8_upload_is_refused(client: TestClient, alice: Caller) -> None:
    latin1 = example_csv().decode("utf-8").encode("latin-1")
    r = upload(client, alice, [("file", ("m.csv", latin1, "text/csv"))])
    assert _problem(r)[:3] == (422, "file", "encoding")
    assert r.json()["errors"][0]["line"] == 4
    declared = upload(client, alice, [("file", ("m.csv", latin1, "text/csv; charset=latin-1"))])
    assert _problem(declared) == (422, "file", "encoding", "latin-1")
    assert stored(client, alice) == []


def test_missing_file_field_is_refused(client: TestClient, alice: Caller) -> None:
    r = upload(client, alice, [("manifest", ("m.csv", example_csv(), "text/csv"))])
    assert _problem(r) == (422, "manifest", "unknown_field", "manifest")
    r = upload(client, alice, [("note", (None, b"x", "text/plain"))])
    assert _problem(r) == (422, "note", "unknown_field", "note")
    empty = client.post(
        "/api/v1/manifests",
        content=b"--b--\r\n",
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert _problem(empty) == (422, "file", "required", None)
    assert stored(client, alice) == []


def test_wrong_file_type_text_field_and_two_files_are_refused(
    client: TestClient, alice: Caller
) -> None:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = upload(client, alice, [("file", ("m.xlsx", b"PK\x03\x04", xlsx))])
    assert _problem(r) == (422, "file", "media_type", xlsx)
    r = upload(client, alice, [("file", (None, example_csv(), "text/csv"))])  # no filename
    assert _problem(r) == (422, "file", "file_part", None)
    form = upload(client, alice, [], data={"file": example_csv().decode()})  # urlencoded
    assert _problem(form) == (
        422,
        "Content-Type",
        "media_type",
        "application/x-www-form-urlencoded",
    )
    two = [("file", ("a.csv", example_csv(), "text/csv"))] * 2
    assert _problem(upload(client, alice, list(two)))[:3] == (422, "file", "max_files")
    assert stored(client, alice) == []


def test_malformed_multipart_is_a_problem(client: TestClient, alice: Caller) -> None:
    """No boundary, or a body that is not multipart at all: 422 rule multipart, not a 400/500."""
    for content_type, body in [
        ("multipart/form-data", b"reference,service\n"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nnot a header line\r\n\r\n"),
    ]:
        r = client.post(
            "/api/v1/manifests",
            content=body,
            headers={**alice.headers, "Content-Type": content_type},
        )
        assert _problem(r)[:3] == (422, "body", "multipart"), r.json()
    assert stored(client, alice) == []


def test_upload_and_raw_csv_share_an_idempotency_key(client: TestClient, alice: Caller) -> None:
    """A retry of the same CSV, as a form or raw, under one key replays the first answer."""
    key = {"Idempotency-Key": "upload-1"}
    files: Files = [("file", ("m.csv", example_csv(), "text/csv"))]
    first = upload(client, alice, files, headers=key)
    again = upload(client, alice, files, headers=key)  # another multipart boundary
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    raw_retry = client.post(
        "/api/v1/manifests",
        content=example_csv(),
        headers={**alice.headers, **key, "Content-Type": "text/csv"},
    )
    assert raw_retry.headers.get("Idempotent-Replayed") == "true"
    assert raw_retry.json() == first.json()
    assert len(stored(client, alice)) == 3
    assert send_csv(client, alice, example_csv()).status_code == 201  # no key: a new manifest
    assert len(stored(client, alice)) == 6


async def _parse_big_upload() -> bool:
    from starlette.datastructures import Headers, UploadFile

    from postex.items.http.manifests import InMemoryParser

    data = b"reference,service\n" + b"R,tracked\n" * 300_000  # 3 MB, past the 1 MB default
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="m.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + data + b"\r\n--b--\r\n"
    )

    async def stream() -> Any:
        yield body

    headers = Headers({"content-type": "multipart/form-data; boundary=b"})
    form = await InMemoryParser(headers, stream(), max_part_size=len(body)).parse()
    part = form["file"]
    assert isinstance(part, UploadFile)
    assert await part.read() == data
    rolled = bool(part.file._rolled)  # type: ignore[attr-defined]
    await form.close()
    return rolled


def test_large_uploads_never_touch_the_disk() -> None:
    """A manifest's personal data is not spooled into a temporary file."""
    import anyio

    assert anyio.run(_parse_big_upload) is False
