"""territory_geo.io: reading CSV / XLSX / Parquet as text, header detection, column aliases."""

from __future__ import annotations

import io as pyio
import os

import numpy as np
import pandas as pd
import pytest

from territory_geo import io
from territory_geo.errors import InputFileError
from territory_geo.settings import InputLimits


def test_read_table_keeps_every_cell_as_text(salesforce_accounts_csv):
    frame = io.read_table(salesforce_accounts_csv, "accounts.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Billing Zip/Postal Code", "BillingLatitude",
                                   "BillingLongitude", "Annual Revenue", "Account Owner", "ARR",
                                   "Expansion Potential", "Favourite Colour"]
    assert len(frame) == 4
    assert frame["Billing Zip/Postal Code"].tolist() == ["30303", "2134", "33131-1234", "35203"]
    assert frame.loc[1, "Annual Revenue"] == "$2,500,000"
    assert frame.loc[0, "ARR"] == "48000"
    assert all(isinstance(v, str) for v in frame["ARR"])
    # empty cells are missing, not ""
    assert pd.isna(frame.loc[0, "BillingLatitude"])
    assert pd.isna(frame.loc[2, "Favourite Colour"])


def test_read_table_accepts_path_and_file_object(tmp_path):
    text = b"Account ID,Account Name,Zip\nA1,Acme,02134\n"
    path = tmp_path / "acc.csv"
    path.write_bytes(text)
    from_path = io.read_table(path)
    from_obj = io.read_table(pyio.BytesIO(text), "upload.csv")
    pd.testing.assert_frame_equal(from_path, from_obj)
    assert from_path.loc[0, "Zip"] == "02134"


def test_read_table_missing_path_raises_helpful_error(tmp_path):
    with pytest.raises(InputFileError, match=r"File not found: .*nope\.csv\. Check the path"):
        io.read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize("data", [b"", b"   \n\n  \r\n"])
def test_empty_file_raises(data):
    with pytest.raises(InputFileError, match=r"empty\.csv: the file is empty"):
        io.read_table(data, "empty.csv")


def test_header_only_file_reads_as_zero_rows():
    frame = io.read_table(b"Account ID,Account Name,Zip\n", "h.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Zip"]
    assert len(frame) == 0


def test_cells_and_blank_rows_are_stripped():
    frame = io.read_table(b"Account ID,Account Name,Zip\n  A1 , Acme  , 30303\n\n,,\nA2,Beta,\n", "s.csv")
    assert frame["Account ID"].tolist() == ["A1", "A2"]  # the blank and the all-empty line are dropped
    assert frame.loc[0].tolist() == ["A1", "Acme", "30303"]
    assert frame.loc[1, "Account Name"] == "Beta"
    assert pd.isna(frame.loc[1, "Zip"])


def test_utf8_bom_is_removed_and_noted():
    data = "Account ID,Account Name,Zip\nA1,Café Olé,30303\n".encode("utf-8-sig")
    frame = io.read_table(data, "bom.csv")
    assert list(frame.columns)[0] == "Account ID"  # no \ufeff glued to the first header
    assert frame.loc[0, "Account Name"] == "Café Olé"
    assert any("byte-order mark" in n for n in frame.attrs["notes"])


def test_latin1_file_is_decoded_and_noted():
    data = "Account ID,Account Name,Zip\nA1,Café Québec,30303\n".encode("latin-1")
    frame = io.read_table(data, "latin.csv")
    assert frame.loc[0, "Account Name"] == "Café Québec"
    assert any("not UTF-8" in n for n in frame.attrs["notes"])


def test_utf8_file_has_no_encoding_note():
    frame = io.read_table("Account ID,Account Name,Zip\nA1,Café,30303\n".encode(), "u.csv")
    assert frame.attrs["notes"] == []


def test_title_lines_above_header_are_skipped():
    data = (b"Accounts by owner\n"
            b"Filtered by: Stage = Open\n"
            b"\n"
            b"Account ID,Account Name,Billing Zip/Postal Code,ARR\n"
            b"A1,Acme,30303,100\n"
            b"A2,Beta,02134,200\n")
    frame = io.read_table(data, "report.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Billing Zip/Postal Code", "ARR"]
    assert frame["Account ID"].tolist() == ["A1", "A2"]
    assert frame["Billing Zip/Postal Code"].tolist() == ["30303", "02134"]
    assert "Skipped 2 title line(s) above the header row (report name, filters, ...)." in frame.attrs["notes"]


def test_title_lines_padded_to_header_width_are_skipped():
    data = b"Accounts report,,\nAccount ID,Account Name,Zip\nA1,Acme,30303\n"
    frame = io.read_table(data, "report.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Zip"]
    assert frame["Account ID"].tolist() == ["A1"]
    assert any(n.startswith("Skipped 1 title line(s)") for n in frame.attrs["notes"])


def test_title_line_with_other_separator_does_not_decide_the_separator():
    data = b"Report; Q3; all owners; open\nAccount ID,Account Name,Zip\nA1,Acme,30303\n"
    frame = io.read_table(data, "report.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Zip"]
    assert frame.loc[0, "Zip"] == "30303"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_are_detected(sep):
    data = sep.join(["Account ID", "Account Name", "Zip"]) + "\n" + sep.join(["A1", "Acme, Inc.", "30303"]) + "\n"
    frame = io.read_table(data.encode(), "x.csv")
    assert frame.to_dict("records") == [{"Account ID": "A1", "Account Name": "Acme, Inc.", "Zip": "30303"}]


def test_row_with_extra_cells_raises_with_fix():
    with pytest.raises(InputFileError, match=r"bad\.csv: the CSV structure is broken .*quote that cell"):
        io.read_table(b"Account ID,Account Name,Zip\nA1,Acme, Inc,30303\n", "bad.csv")


def test_binary_data_as_csv_raises():
    with pytest.raises(InputFileError, match=r"bin\.csv: this looks like a binary file"):
        io.read_table(b"\x00\x01\x02PK" + os.urandom(64), "bin.csv")


def test_random_bytes_as_xlsx_raises():
    with pytest.raises(InputFileError, match=r"junk\.xlsx: the workbook could not be opened"):
        io.read_table(os.urandom(512), "junk.xlsx")


def test_random_bytes_as_parquet_raises():
    with pytest.raises(InputFileError, match=r"junk\.parquet: the Parquet file could not be read"):
        io.read_table(os.urandom(512), "junk.parquet")


def test_xlsx_with_title_rows_and_numeric_zips():
    sheet = pd.DataFrame([["Account report", None, None],
                          ["Account ID", "Account Name", "Billing Zip/Postal Code"],
                          ["A1", "Allston Labs", 2134],
                          ["A2", "Peach Medical", 30303]])
    buf = pyio.BytesIO()
    sheet.to_excel(buf, header=False, index=False)
    frame = io.read_table(buf.getvalue(), "accounts.xlsx")
    assert list(frame.columns) == ["Account ID", "Account Name", "Billing Zip/Postal Code"]
    assert frame["Billing Zip/Postal Code"].tolist() == ["2134", "30303"]
    assert any(n.startswith("Skipped 1 title line(s)") for n in frame.attrs["notes"])


def test_parquet_is_read_as_text():
    buf = pyio.BytesIO()
    pd.DataFrame({"Account ID": [7, 8], "Account Name": ["a", None], "Zip": [2134, 30303]}).to_parquet(buf)
    frame = io.read_table(buf.getvalue(), "accounts.parquet")
    assert frame["Account ID"].tolist() == ["7", "8"]
    assert frame["Zip"].tolist() == ["2134", "30303"]
    assert pd.isna(frame.loc[1, "Account Name"])


def test_duplicate_header_names_are_made_unique():
    frame = io.read_table(b"Account ID,Account Name,Zip,Zip\nA1,Acme,30303,30308\n", "d.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Zip", "Zip_1"]


def test_normalise_name():
    assert io.normalise_name("Billing Zip/Postal Code") == "billingzippostalcode"
    assert io.normalise_name(" Account_ID ") == "accountid"
    assert io.normalise_name(12) == "12"


def test_salesforce_aliases_map_and_unknown_columns_pass_through(salesforce_accounts_csv):
    frame = io.read_table(salesforce_accounts_csv, "sf.csv")
    table = io.canonicalise(frame, io.ACCOUNT_ALIASES, "sf.csv")
    assert table.mapping == {
        "Account ID": "account_id", "Account Name": "name", "Billing Zip/Postal Code": "zip",
        "BillingLatitude": "lat", "BillingLongitude": "lon", "Annual Revenue": "annual_revenue",
        "Account Owner": "owner_rep_id", "ARR": "arr", "Expansion Potential": "expansion_potential",
    }
    assert list(table.frame.columns) == ["account_id", "name", "zip", "lat", "lon", "annual_revenue",
                                         "owner_rep_id", "arr", "expansion_potential", "Favourite Colour"]
    assert table.frame["Favourite Colour"].tolist()[:2] == ["blue", "red"]
    assert table.file == "sf.csv"
    assert any("'Billing Zip/Postal Code' → zip" in n for n in table.notes)


def test_hubspot_aliases_map():
    frame = io.read_table(b"Company ID,Company name,Postal Code,Lifecycle Stage\n101,Acme,30303,lead\n", "hs.csv")
    table = io.canonicalise(frame, io.ACCOUNT_ALIASES, "hs.csv")
    assert table.mapping == {"Company ID": "account_id", "Company name": "name", "Postal Code": "zip"}
    assert list(table.frame.columns) == ["account_id", "name", "zip", "Lifecycle Stage"]
    assert table.frame.loc[0, "account_id"] == "101"


def test_rep_aliases_map():
    frame = io.read_table(b"User ID,Full Name,Home Base ZIP,Tenure (years),Seniority,Annual Quota\n"
                          b"U1,Ann,30303,2,AE,500000\n", "reps.csv")
    table = io.canonicalise(frame, io.REP_ALIASES, "reps.csv")
    assert table.mapping == {"User ID": "rep_id", "Full Name": "name", "Home Base ZIP": "home_zip",
                             "Tenure (years)": "tenure_years", "Seniority": "role", "Annual Quota": "quota"}


def test_two_columns_for_one_canonical_name_first_spelling_wins():
    frame = io.read_table(b"Account ID,Account Name,Shipping Zip/Postal Code,Billing Zip/Postal Code\n"
                          b"A1,Acme,33131,30303\n", "two.csv")
    table = io.canonicalise(frame, io.ACCOUNT_ALIASES, "two.csv")
    assert table.mapping["Billing Zip/Postal Code"] == "zip"
    assert "Shipping Zip/Postal Code" not in table.mapping
    assert table.frame.loc[0, "zip"] == "30303"
    assert table.frame.loc[0, "Shipping Zip/Postal Code"] == "33131"


def test_header_found_below_unrecognised_first_row_in_xlsx():
    sheet = pd.DataFrame([["Quarterly export", "generated 2026-09-30"], ["Rep ID", "Name"], ["R1", "Ann"]])
    buf = pyio.BytesIO()
    sheet.to_excel(buf, header=False, index=False)
    frame = io.read_table(buf.getvalue(), "reps.xlsx")
    assert list(frame.columns) == ["Rep ID", "Name"]
    assert frame.to_dict("records") == [{"Rep ID": "R1", "Name": "Ann"}]


# --- control characters, binary files, UTF-16 ----------------------------------------------------------------------


def test_nul_and_other_control_characters_are_removed_and_located():
    data = (b"Account ID,Account Name,Zip,Notes\nA1,Ac\x00me,30303,ok\nA2, Beta\x07 ,30303,\x1b[0m\n"
            b"A3,Gamma,30303,\x00\n" + b"".join(b"A%d,Filler,30303,\n" % i for i in range(4, 40)))
    frame = io.read_table(data, "ctl.csv")
    assert frame["Account Name"].tolist()[:3] == ["Acme", "Beta", "Gamma"]
    assert frame.loc[1, "Notes"] == "[0m"
    assert pd.isna(frame.loc[2, "Notes"])  # a cell of control characters only is empty
    found = {column: (rows.tolist(), counts.tolist()) for column, (rows, counts) in
             frame.attrs["control_characters"].items()}
    assert found == {"Account Name": ([0, 1], [1, 1]), "Notes": ([1, 2], [1, 1])}
    assert frame.attrs["notes"] == [("Removed control characters (NUL and other invisible codes) from 4 cell(s) in 2 "
                                     "column(s): 'Account Name', 'Notes'.")]


def test_tab_cr_and_lf_inside_a_quoted_cell_are_kept():
    frame = io.read_table(b'Account ID,Account Name,Zip\nA1,"two\r\nlines\tand a tab",30303\n', "ok.csv")
    assert frame.loc[0, "Account Name"] == "two\r\nlines\tand a tab"
    assert "control_characters" not in frame.attrs


def test_control_characters_in_parquet_cells_are_removed():
    buf = pyio.BytesIO()
    pd.DataFrame({"Account ID": ["A1", "A2"], "Account Name": ["Acme\x00", "Beta"]}).to_parquet(buf)
    frame = io.read_table(buf.getvalue(), "a.parquet")
    assert frame["Account Name"].tolist() == ["Acme", "Beta"]
    assert list(frame.attrs["control_characters"]) == ["Account Name"]


def test_control_characters_in_the_header_are_removed():
    frame = io.read_table(b"Account ID\x00,Account Name,Zip\nA1,Acme,30303\n", "h.csv")
    assert list(frame.columns) == ["Account ID", "Account Name", "Zip"]


@pytest.mark.parametrize(("data", "hint"), [
    (b"PK\x03\x04" + bytes(200), "It is a ZIP archive, e.g. an Excel workbook: give it the .xlsx extension."),
    (b"PAR1" + bytes(200), "It is a Parquet file: give it the .parquet extension."),
    (bytes(range(32)) * 20, "Upload a .csv, .xlsx or .parquet export"),
])
def test_binary_files_are_still_refused_with_a_hint(data, hint):
    with pytest.raises(InputFileError) as info:
        io.read_table(data, "bin.csv")
    assert str(info.value).startswith(f"bin.csv: this looks like a binary file, not CSV text. {hint}")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded(encoding):
    text = "Account ID\tAccount Name\tZip\nA1\tCafé Olé\t02134\n"
    data = text.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + text.encode(encoding)
    frame = io.read_table(data, "unicode.txt")
    assert frame.to_dict("records") == [{"Account ID": "A1", "Account Name": "Café Olé", "Zip": "02134"}]
    assert frame.attrs["notes"] == [("The file is UTF-16 text (Excel's 'Unicode Text'); it was decoded. Save it as "
                                     "'CSV UTF-8' to skip the conversion.")]


def test_utf16_that_is_not_valid_is_refused():
    with pytest.raises(InputFileError, match=r"bad\.csv: the file starts like UTF-16 text but is not valid UTF-16"):
        io.read_table(b"\xff\xfeA\x00\x00\xd8", "bad.csv")


# --- wide files ---------------------------------------------------------------------------------------------------


def test_wide_file_passes_unknown_columns_through_as_one_block():
    extra = [f"Custom {i}" for i in range(1500)]
    header = ",".join(["Account ID", "Account Name", "Zip", *extra])
    rows = [",".join([f"A{r}", f" Name {r} ", "30303", *[" x " if i % 2 else "" for i in range(1500)]])
            for r in range(20)]
    frame = io.read_table(("\n".join([header, *rows]) + "\n").encode(), "wide.csv",
                          limits=InputLimits(max_columns=2000))
    assert frame.shape == (20, 1503)
    assert list(frame.columns[:4]) == ["Account ID", "Account Name", "Zip", "Custom 0"]
    assert frame["Account Name"].tolist()[:2] == ["Name 0", "Name 1"]
    assert str(frame["Account ID"].dtype) == "str"  # recognised: pyarrow strings, parsed by validation
    assert set(frame[extra].dtypes) == {np.dtype(object)}
    assert frame[extra]._mgr.nblocks == 1
    assert frame.loc[3, "Custom 1"] == "x" and pd.isna(frame.loc[3, "Custom 0"])


def test_repeated_header_names_never_collide():
    frame = io.read_table(b"Account ID,Zip,Zip,Zip_1\nA1,30303,30308,x\n", "d.csv")
    assert list(frame.columns) == ["Account ID", "Zip", "Zip_2", "Zip_1"]


def test_a_short_file_with_one_stray_nul_is_read():
    frame = io.read_table(b"Account ID,Account Name,Zip\nA1,Ac\x00me,30303\n", "nul.csv")
    assert frame.loc[0, "Account Name"] == "Acme"
