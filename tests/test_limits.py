"""Input limits: territory_geo.settings.InputLimits / input_limits and their checks in io.read_table and ingest.

Every limit is tested with a small limit and a small file; the checks must refuse before the expensive step (parsing,
inflating a workbook), which the tests prove by making that step fail if it is reached.
"""

from __future__ import annotations

import io as pyio
import tomllib
import zipfile

import pandas as pd
import pytest

from territory_geo import io
from territory_geo.dataset import ingest
from territory_geo.errors import InputFileError, TerritoryError
from territory_geo.settings import INPUT_LIMIT_ENV, MAX_UPLOAD_MB, InputLimits, input_limits


def _csv(rows: int, columns: int = 3) -> bytes:
    header = ",".join(["Account ID", "Account Name", "Zip"] + [f"extra {i}" for i in range(columns - 3)])
    lines = [",".join([f"A{r}", f"Name {r}", "30303"] + ["x"] * (columns - 3)) for r in range(rows)]
    return ("\n".join([header, *lines]) + "\n").encode()


def _unreachable(*args, **kwargs):
    raise AssertionError("the limit should have refused the file before this step")


# --- settings ---------------------------------------------------------------------------------------------------


def test_defaults_mirror_the_upload_setting(repo_root):
    limits = InputLimits()
    assert (limits.max_upload_mb, limits.max_columns, limits.max_rows) == (200, 500, 2_000_000)
    assert (limits.max_xlsx_uncompressed_mb, limits.max_xlsx_ratio) == (512, 100)
    streamlit = tomllib.loads((repo_root / ".streamlit" / "config.toml").read_text())
    assert limits.max_upload_mb == MAX_UPLOAD_MB == streamlit["server"]["maxUploadSize"]


def test_input_limits_reads_every_environment_variable(monkeypatch):
    values = {"max_upload_mb": "50.5", "max_columns": "40", "max_rows": "1_000", "max_xlsx_uncompressed_mb": "64",
              "max_xlsx_ratio": "20"}
    for field_name, text in values.items():
        monkeypatch.setenv(INPUT_LIMIT_ENV[field_name], text)
    assert input_limits() == InputLimits(max_upload_mb=50.5, max_columns=40, max_rows=1000,
                                         max_xlsx_uncompressed_mb=64.0, max_xlsx_ratio=20.0)


def test_input_limits_without_environment_is_the_defaults(monkeypatch):
    for variable in INPUT_LIMIT_ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("TERRITORY_GEO_MAX_ROWS", "  ")  # blank: unset
    assert input_limits() == InputLimits()


@pytest.mark.parametrize(("variable", "text", "kind"), [
    ("TERRITORY_GEO_MAX_COLUMNS", "lots", "a positive whole number"),
    ("TERRITORY_GEO_MAX_COLUMNS", "2.5", "a positive whole number"),
    ("TERRITORY_GEO_MAX_ROWS", "0", "a positive whole number"),
    ("TERRITORY_GEO_MAX_UPLOAD_MB", "-1", "a positive number"),
    ("TERRITORY_GEO_MAX_XLSX_RATIO", "nan", "a positive number"),
])
def test_bad_environment_value_is_a_clear_error(monkeypatch, variable, text, kind):
    monkeypatch.setenv(variable, text)
    with pytest.raises(TerritoryError) as info:
        input_limits()
    assert str(info.value) == f"{variable} must be {kind}; it is {text!r}. Fix or unset the environment variable."


def test_read_table_uses_the_environment_by_default(monkeypatch):
    monkeypatch.setenv("TERRITORY_GEO_MAX_ROWS", "2")
    with pytest.raises(InputFileError, match=r"has 3 rows; the limit is 2 \(TERRITORY_GEO_MAX_ROWS\)"):
        io.read_table(_csv(3), "a.csv")


# --- size ---------------------------------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(_csv(1) + b"#" * (3 << 19))  # 1.5 MB
    monkeypatch.setattr(type(path), "read_bytes", _unreachable)
    with pytest.raises(InputFileError) as info:
        io.read_table(path, limits=InputLimits(max_upload_mb=1))
    assert str(info.value) == ("big.csv is 1.5 MB; the limit is 1 MB (TERRITORY_GEO_MAX_UPLOAD_MB). Remove unused "
                               "columns or rows from the export (or split it), or raise the limit.")


@pytest.mark.parametrize("as_object", [False, True])
def test_bytes_and_uploads_over_the_size_limit_are_refused(as_object):
    data = _csv(1) + b"#" * (3 << 19)
    source = pyio.BytesIO(data) if as_object else data
    with pytest.raises(InputFileError, match=r"^up\.csv is 1\.5 MB; the limit is 1 MB"):
        io.read_table(source, "up.csv", limits=InputLimits(max_upload_mb=1))


class _Stream:
    """A binary stream that cannot seek and has no size (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._buf = pyio.BytesIO(data)
        self.name = "piped.csv"

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(n)


def test_stream_of_unknown_size_is_read_no_further_than_the_limit():
    stream = _Stream(_csv(1) + b"#" * (3 << 20))
    with pytest.raises(InputFileError, match=r"^piped\.csv is more than 1 MB; the limit is 1 MB \(TERRITORY_GEO_"):
        io.read_table(stream, limits=InputLimits(max_upload_mb=1))
    assert stream._buf.tell() == (1 << 20) + 1


# --- CSV columns and rows -------------------------------------------------------------------------------------------


def test_csv_with_too_many_columns_is_refused_from_its_header(monkeypatch):
    monkeypatch.setattr(pd, "read_csv", _unreachable)
    with pytest.raises(InputFileError) as info:
        io.read_table(_csv(2, columns=12), "accounts.csv", limits=InputLimits(max_columns=10))
    assert str(info.value) == ("accounts.csv has 12 columns; the limit is 10 (TERRITORY_GEO_MAX_COLUMNS). Remove "
                               "unused columns from the export, or raise the limit.")


def test_csv_with_too_many_rows_is_refused_by_counting_lines(monkeypatch):
    monkeypatch.setattr(pd, "read_csv", _unreachable)
    with pytest.raises(InputFileError) as info:
        io.read_table(_csv(30), "accounts.csv", limits=InputLimits(max_rows=20))
    assert str(info.value) == ("accounts.csv has 30 rows; the limit is 20 (TERRITORY_GEO_MAX_ROWS). Split the file "
                               "(by region or owner), or raise the limit.")


def test_csv_at_the_limits_is_read():
    frame = io.read_table(_csv(20, columns=10), "ok.csv", limits=InputLimits(max_rows=20, max_columns=10))
    assert frame.shape == (20, 10)


def test_quoted_separators_in_the_header_are_not_columns():
    data = b'Account ID,"Account Name, legal",Zip\nA1,Acme,30303\n'
    assert io.read_table(data, "q.csv", limits=InputLimits(max_columns=3)).shape == (1, 3)


# --- Parquet --------------------------------------------------------------------------------------------------------


def _parquet(rows: int, columns: int) -> bytes:
    buf = pyio.BytesIO()
    pd.DataFrame({f"c{i}": [str(r) for r in range(rows)] for i in range(columns)}).to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.mark.parametrize(("rows", "columns", "limits", "message"), [
    (5, 12, InputLimits(max_columns=10), "a.parquet has 12 columns; the limit is 10 (TERRITORY_GEO_MAX_COLUMNS)."),
    (30, 3, InputLimits(max_rows=20), "a.parquet has 30 rows; the limit is 20 (TERRITORY_GEO_MAX_ROWS)."),
])
def test_parquet_is_checked_from_its_metadata(monkeypatch, rows, columns, limits, message):
    data = _parquet(rows, columns)
    monkeypatch.setattr(pd, "read_parquet", _unreachable)
    with pytest.raises(InputFileError) as info:
        io.read_table(data, "a.parquet", limits=limits)
    assert str(info.value).startswith(message)


# --- XLSX -----------------------------------------------------------------------------------------------------------


def _xlsx(rows: int, columns: int) -> bytes:
    buf = pyio.BytesIO()
    sheet = pd.DataFrame([[f"r{r}c{c}" for c in range(columns)] for r in range(rows + 1)])
    sheet.to_excel(buf, header=False, index=False)
    return buf.getvalue()


@pytest.mark.parametrize(("rows", "columns", "limits", "message"), [
    (5, 12, InputLimits(max_columns=10), "a.xlsx has 12 columns; the limit is 10 (TERRITORY_GEO_MAX_COLUMNS)."),
    (30, 3, InputLimits(max_rows=20), "a.xlsx has 30 rows; the limit is 20 (TERRITORY_GEO_MAX_ROWS)."),
])
def test_xlsx_is_checked_from_its_sheet_dimension(monkeypatch, rows, columns, limits, message):
    data = _xlsx(rows, columns)
    monkeypatch.setattr(pd, "read_excel", _unreachable)
    with pytest.raises(InputFileError) as info:
        io.read_table(data, "a.xlsx", limits=limits)
    assert str(info.value).startswith(message)


def _bomb(sheet_mb: int) -> bytes:
    """A workbook-shaped zip whose sheet is ``sheet_mb`` MB of one repeated row: about 1,000 to 1 compressed."""
    row = b'<row><c t="inlineStr"><is><t>boom</t></is></c></row>'
    sheet = b"<worksheet><sheetData>" + row * ((sheet_mb << 20) // len(row)) + b"</sheetData></worksheet>"
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


@pytest.fixture
def bomb(monkeypatch) -> bytes:
    """An 8 MB sheet packed about 1,000 to 1; once it is built, opening (inflating) any zip member or reaching the
    workbook reader fails the test."""
    data = _bomb(8)
    monkeypatch.setattr(zipfile.ZipFile, "open", _unreachable)
    monkeypatch.setattr(zipfile.ZipFile, "read", _unreachable)
    monkeypatch.setattr(pd, "read_excel", _unreachable)
    return data


def test_xlsx_bomb_is_refused_by_its_ratio_without_inflating(bomb):
    with pytest.raises(InputFileError) as info:
        io.read_table(bomb, "bomb.xlsx")
    message = str(info.value)
    assert message.startswith("bomb.xlsx holds a part (xl/worksheets/sheet1.xml) compressed ")
    assert message.endswith(" to 1; the limit is 100 to 1 (TERRITORY_GEO_MAX_XLSX_RATIO). A real export does not "
                            "compress that much; save the sheet as CSV, or raise the limit.")


def test_xlsx_bomb_is_refused_by_its_unpacked_size_without_inflating(bomb):
    with pytest.raises(InputFileError) as info:
        io.read_table(bomb, "bomb.xlsx", limits=InputLimits(max_xlsx_uncompressed_mb=4, max_xlsx_ratio=10_000))
    assert str(info.value) == ("bomb.xlsx unpacks to 8 MB; the limit is 4 MB (TERRITORY_GEO_MAX_XLSX_MB). Save the "
                               "sheet as CSV (or delete unused sheets and formatting), or raise the limit.")


def test_small_parts_are_not_ratio_checked():
    """Styles and empty sheets compress far beyond 100 to 1, harmlessly; a normal small workbook is read."""
    data = _xlsx(3, 3)
    frame = io.read_table(data, "small.xlsx", limits=InputLimits(max_xlsx_ratio=1.01))
    assert frame.shape == (3, 3)


# --- through ingest -------------------------------------------------------------------------------------------------


def test_ingest_reports_a_refused_file_as_fatal():
    data = ingest(_csv(30), accounts_name="accounts.csv", limits=InputLimits(max_rows=20))
    assert data.scored is None and data.report.fatal
    [error] = data.report.to_json_dict()["errors"]
    assert error["file"] == "accounts.csv"
    assert error["message"].startswith("accounts.csv has 30 rows; the limit is 20 (TERRITORY_GEO_MAX_ROWS).")
