"""territory_geo.validate: row-level report (file, row, column, value, message, fix), quarantine, nothing lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from territory_geo import io, validate
from territory_geo.settings import CapacitySettings, InputLimits


def _accounts(text: str, name: str = "accounts.csv") -> validate.CleanTable:
    return validate.validate_accounts(io.read_table(text.encode("utf-8"), name), name)


def _reps(text: str, name: str = "reps.csv") -> validate.CleanTable:
    return validate.validate_reps(io.read_table(text.encode("utf-8"), name), name)


def _issue(table: validate.CleanTable, row: int) -> list[dict]:
    issues = table.report.issues
    return issues[issues["row"] == row].to_dict("records")


# --- columns --------------------------------------------------------------------------------------------------


def test_salesforce_export_is_validated_with_canonical_columns(salesforce_accounts_csv, real_zips):
    table = validate.validate_accounts(io.read_table(salesforce_accounts_csv, "sf.csv"), "sf.csv")
    data = table.data
    assert table.report.n_rows == 4
    assert table.report.n_valid == 4
    assert data["row"].tolist() == [1, 2, 3, 4]
    assert data["account_id"].tolist() == ["A1", "A2", "A3", "A4"]
    # ZIPs stay text; the lost leading zero is restored; ZIP+4 is accepted as its 5-digit ZIP
    assert data["zip"].tolist() == [real_zips["atlanta"], real_zips["boston_allston"], real_zips["miami"],
                                    real_zips["birmingham"]]
    assert all(isinstance(z, str) for z in data["zip"])
    assert data["state"].tolist() == ["GA", "MA", "FL", "AL"]
    assert data.loc[1, "city"] == "Allston"
    assert data["annual_revenue"].tolist() == [12_500_000.0, 2_500_000.0, 1_200_000.0, 800_000.0]
    assert data["arr"].tolist() == [48000.0, 0.0, 12000.0, 0.0]
    assert data["owner_rep_id"].tolist() == ["R01", "R02", "R01", "Zed Nobody"]
    # the unknown column passes through untouched
    assert data["Favourite Colour"].tolist()[:2] == ["blue", "red"]
    assert pd.isna(data.loc[2, "Favourite Colour"])
    # coordinates given are used; otherwise the ZIP centroid
    assert data["location_source"].tolist() == ["zip centroid"] * 3 + ["coordinates"]
    assert data.loc[3, ["lat", "lon"]].tolist() == [33.5207, -86.8025]
    assert data.loc[0, "lat"] == pytest.approx(33.7525)
    assert data.loc[0, "lon"] == pytest.approx(-84.3888)
    # the only issue: the padded ZIP, named so the user can check it
    [issue] = table.report.issues.to_dict("records")
    assert issue == {"file": "sf.csv", "row": 2, "column": "Billing Zip/Postal Code", "value": "2134",
                     "severity": "warning",
                     "message": "ZIP '2134' has 4 digits; read as 02134 (Allston, MA) — a leading zero lost in a "
                                "spreadsheet?",
                     "fix": "Check the ZIP; format the column as text in the spreadsheet so that leading zeros are "
                            "kept."}
    assert list(table.report.issues.columns) == validate.ISSUE_COLUMNS


def test_hubspot_export_is_validated():
    table = _accounts("Company ID,Company name,Postal Code,Lifecycle Stage\n101,Acme,30303,lead\n")
    assert table.data[["account_id", "name", "zip", "state", "Lifecycle Stage"]].values.tolist() == [
        ["101", "Acme", "30303", "GA", "lead"]]


def test_missing_required_column_is_fatal_and_names_the_users_columns():
    table = _accounts("Account ID,Postal Code\nA1,30303\n")
    report = table.report
    assert report.fatal and not report.ok
    fatal = report.issues[report.issues["severity"] == "fatal"]
    assert fatal["column"].tolist() == ["name"]
    assert fatal["message"].iloc[0] == "The accounts file has no 'name' column (found: Account ID, Postal Code)."
    assert "'account name'" in fatal["fix"].iloc[0]
    assert table.data.empty


def test_missing_location_columns_is_fatal():
    table = _accounts("Account ID,Account Name\nA1,Acme\n")
    fatal = table.report.issues
    assert fatal["severity"].tolist() == ["fatal"]
    assert fatal["message"].iloc[0].startswith("The accounts file has no location column")
    assert table.report.fatal


def test_lat_lon_without_zip_is_a_location():
    table = _accounts("Account ID,Account Name,Latitude,Longitude\nA1,Acme,33.75,-84.39\n")
    assert table.report.ok
    assert table.data.loc[0, ["lat", "lon"]].tolist() == [33.75, -84.39]
    assert table.data.loc[0, "location_source"] == "coordinates"


def test_header_without_data_rows_is_fatal():
    table = _accounts("Account ID,Account Name,Zip\n")
    issues = table.report.issues
    assert issues["severity"].tolist() == ["fatal"]
    assert issues["message"].iloc[0] == "accounts.csv has a header but no data rows."
    assert table.report.fatal


# --- ZIPs and locations -----------------------------------------------------------------------------------------


def test_po_box_zip_is_warned_and_kept(real_zips):
    table = _accounts(f"Account ID,Account Name,Zip\nA1,Post Office Co,{real_zips['po_box']}\n")
    assert table.report.n_valid == 1
    assert table.data.loc[0, "zip_type"] == "PO BOX"
    assert table.data.loc[0, "zip"] == real_zips["po_box"]
    [issue] = _issue(table, 1)
    assert issue["severity"] == "warning"
    assert issue["column"] == "Zip"
    assert issue["value"] == real_zips["po_box"]
    assert issue["message"].startswith("ZIP is a po box ZIP (not a street area)")


def test_unknown_zip_is_an_error_and_the_row_is_quarantined():
    table = _accounts("Account ID,Account Name,Billing Zip/Postal Code\nA1,Good,30303\nA2,Typo,99999\n")
    assert table.data["account_id"].tolist() == ["A1"]
    assert table.quarantine["row"].tolist() == [2]
    [issue] = _issue(table, 2)
    assert issue == {"file": "accounts.csv", "row": 2, "column": "Billing Zip/Postal Code", "value": "99999",
                     "severity": "error", "message": "Unknown ZIP code, and the account has no coordinates.",
                     "fix": "Check the ZIP for a typo, or add latitude/longitude."}


def test_unknown_zip_with_coordinates_is_a_warning_and_uses_the_coordinates():
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Typo,99999,33.5,-84.2\n")
    assert table.report.n_valid == 1
    assert table.data.loc[0, ["lat", "lon", "location_source"]].tolist() == [33.5, -84.2, "coordinates"]
    assert pd.isna(table.data.loc[0, "zip"])
    [issue] = _issue(table, 1)
    assert issue["severity"] == "warning"
    assert issue["message"] == "Unknown ZIP code; the row's coordinates are used instead."


def test_malformed_zip_is_an_error_without_coordinates():
    table = _accounts("Account ID,Account Name,Zip\nA1,Bad,ABCDE\nA2,Short,12\n")
    assert table.report.n_valid == 0
    assert table.report.fatal  # nothing usable left
    msgs = table.report.issues["message"].unique().tolist()
    assert msgs == ["Not a US ZIP code, and the account has no coordinates."]
    assert table.report.issues["row"].tolist() == [1, 2]


def test_excel_float_zip_is_restored():
    table = _accounts("Account ID,Account Name,Zip\nA1,Allston,2134.0\n")
    assert table.data.loc[0, "zip"] == "02134"


def test_swapped_lat_lon_is_corrected_with_a_warning():
    table = _accounts("Account ID,Account Name,Latitude,Longitude\nA1,Swapped,-86.8066,33.5210\n")
    assert table.report.n_valid == 1
    assert table.data.loc[0, ["lat", "lon"]].tolist() == [33.521, -86.8066]
    [issue] = _issue(table, 1)
    assert issue["severity"] == "warning"
    assert issue["column"] == "Latitude"
    assert issue["value"] == "-86.8066"
    assert issue["message"] == "Latitude and longitude look swapped; they were swapped back."


def test_lat_lon_out_of_range_is_ignored_with_a_warning_and_the_zip_is_used():
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Far,30303,95,200\n")
    assert table.report.n_valid == 1
    assert table.data.loc[0, "location_source"] == "zip centroid"
    assert table.data.loc[0, "lat"] == pytest.approx(33.7525)
    [issue] = _issue(table, 1)
    assert issue["severity"] == "warning"
    assert issue["value"] == "95.0, 200.0"
    assert issue["message"].startswith("Latitude/longitude is outside the range of the Earth")


def test_lat_lon_out_of_range_without_zip_quarantines_the_row():
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Far,,95,200\nA2,Ok,30303,,\n")
    assert table.data["account_id"].tolist() == ["A2"]
    assert table.quarantine["row"].tolist() == [1]
    assert table.quarantine["problems"].tolist() == ["The account has no location."]


def test_zero_zero_coordinates_are_ignored():
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Null Island,35203,0,0\n")
    assert table.data.loc[0, "location_source"] == "zip centroid"
    assert table.data.loc[0, "state"] == "AL"
    [issue] = _issue(table, 1)
    assert issue["message"] == "Coordinates are 0, 0 (a geocoder's 'not found'); ignored."


# --- numbers ------------------------------------------------------------------------------------------------------


def test_unparseable_number_and_negative_arr_are_errors():
    table = _accounts("Account ID,Account Name,Zip,ARR\nA1,Ok,30303,\"$1,200\"\nA2,Neg,30303,-5\n"
                      "A3,Text,30303,lots\nA4,Paren,30303,(300)\n")
    assert table.data["account_id"].tolist() == ["A1"]
    assert table.data.loc[0, "arr"] == 1200.0
    issues = table.report.issues
    assert issues[["row", "column", "value", "severity"]].values.tolist() == [
        [2, "ARR", "-5", "error"], [3, "ARR", "lots", "error"], [4, "ARR", "(300)", "error"]]
    assert issues["message"].tolist() == ["'ARR' is negative.", "'ARR' is not a number.", "'ARR' is negative."]
    assert all(fix.startswith("Use 0 or a positive amount") or fix.startswith("Write") for fix in issues["fix"])


@pytest.mark.parametrize(("text", "expected"), [
    ("$1,234.50", 1234.5), ("15k", 15_000.0), ("1.2M", 1_200_000.0), ("2bn", 2e9), ("(1,000)", -1000.0),
    ("12%", 12.0), (" 7 ", 7.0), ("1e3", 1000.0),
])
def test_parse_number(text, expected):
    values, bad = validate.parse_number(pd.Series([text]))
    assert values.iloc[0] == pytest.approx(expected)
    assert not bad.iloc[0]


def test_parse_number_flags_text_and_ignores_empty():
    values, bad = validate.parse_number(pd.Series(["abc", None, "", "1.2.3"]))
    assert bad.tolist() == [True, False, False, True]
    assert values.isna().all()


def test_win_rate_accepts_fractions_and_percentages():
    table = _accounts("Account ID,Account Name,Zip,Win Rate\nA1,a,30303,0.35\nA2,b,30303,35%\nA3,c,30303,35\n"
                      "A4,d,30303,100\nA5,e,30303,0\n")
    assert table.report.n_valid == 5
    assert table.data["win_rate"].tolist() == pytest.approx([0.35, 0.35, 0.35, 1.0, 0.0])
    assert table.report.issues.empty


def test_win_rate_outside_range_is_an_error():
    table = _accounts("Account ID,Account Name,Zip,Win Rate\nA1,a,30303,150\nA2,b,30303,-0.2\nA3,c,30303,maybe\n"
                      "A4,d,30303,0.5\n")
    assert table.data["account_id"].tolist() == ["A4"]
    issues = table.report.issues
    assert issues["row"].tolist() == [1, 2, 3]
    assert issues["column"].unique().tolist() == ["Win Rate"]
    assert issues["message"].tolist() == ["Win rate is outside 0-1 (or 0-100 %).",
                                          "Win rate is outside 0-1 (or 0-100 %).", "Win rate is not a number."]


def test_optional_fields_are_typed():
    table = _accounts("Account ID,Account Name,Zip,Strategic,Churn Risk,Intent Score,Last Activity,Renewal Date\n"
                      "A1,a,30303,Yes,high,80,2026-09-01,09/30/2027\n"
                      "A2,b,30303,no,0.2,,,\n"
                      "A3,c,30303,perhaps,,,someday,\n")
    data = table.data
    assert data["strategic"].tolist() == [True, False, False]
    assert data["churn_risk"].tolist()[:2] == [0.85, 0.2]
    assert data.loc[0, "intent_score"] == 80.0
    assert data.loc[0, "last_contact_date"] == pd.Timestamp("2026-09-01")
    assert data.loc[0, "renewal_date"] == pd.Timestamp("2027-09-30")
    assert pd.isna(data.loc[2, "last_contact_date"])
    warnings = table.report.warnings()
    assert warnings[["row", "column", "value"]].values.tolist() == [[3, "Last Activity", "someday"],
                                                                   [3, "Strategic", "perhaps"]]
    assert table.report.n_valid == 3  # warnings keep the row


def test_intent_on_a_0_1_scale_is_rescaled_with_a_note():
    table = _accounts("Account ID,Account Name,Zip,Intent Score\nA1,a,30303,0.8\nA2,b,30303,0.25\n")
    assert table.data["intent_score"].tolist() == [80.0, 25.0]
    assert "Intent scores were given on a 0-1 scale and were multiplied by 100." in table.report.notes


def test_precomputed_potential_is_noted():
    table = _accounts("Account ID,Account Name,Zip,Potential\nA1,a,30303,60000\n")
    assert table.data.loc[0, "potential"] == 60000.0
    assert any("'potential' column: it is used as-is" in n for n in table.report.notes)


# --- ids, duplicates, quarantine -----------------------------------------------------------------------------------


def test_duplicate_ids_keep_the_first_and_quarantine_later_occurrences():
    table = _accounts("Account ID,Account Name,Zip\nA1,First,30303\nA2,Other,33131\nA1,Second,35203\n"
                      "A1,Third,35203\n")
    assert table.data["name"].tolist() == ["First", "Other"]
    assert table.quarantine["row"].tolist() == [3, 4]
    assert table.quarantine["Account Name"].tolist() == ["Second", "Third"]
    issues = table.report.issues
    assert issues["message"].tolist() == ["Duplicate account id A1: rows 1 and 3 both have it; row 3 was set aside.",
                                          "Duplicate account id A1: rows 1 and 4 both have it; row 4 was set aside."]
    assert issues["column"].tolist() == ["Account ID"] * 2
    assert issues["value"].tolist() == ["A1", "A1"]


def test_missing_id_and_name_are_errors():
    table = _accounts("Account ID,Account Name,Zip\n,No id,30303\nA2,,30303\nA3,Ok,30303\n")
    assert table.data["account_id"].tolist() == ["A3"]
    issues = table.report.issues
    assert issues[["row", "column", "message"]].values.tolist() == [
        [1, "Account ID", "The account has no id."], [2, "Account Name", "The account has no name."]]


def test_quarantine_keeps_original_text_and_no_valid_row_is_lost():
    text = ("Account ID,Account Name,Billing Zip/Postal Code,ARR,Notes\n"
            "A1,Good one,2134,\"$1,000\",keep\n"
            "A2,Bad zip,99999,500,x\n"
            "A3,Good two,33131,0,\n"
            "A4,Bad arr,30303,\"-1,000\",y\n"
            "A5,Good three,35203-0001,15k,\n"
            "A1,Dup,30303,1,\n")
    table = _accounts(text)
    assert table.report.n_rows == 6
    assert table.data["account_id"].tolist() == ["A1", "A3", "A5"]
    assert table.data["row"].tolist() == [1, 3, 5]
    assert len(table.data) + len(table.quarantine) == table.report.n_rows
    assert table.report.n_valid == 3
    q = table.quarantine
    # original column names and the text exactly as in the file
    assert list(q.columns) == ["row", "Account ID", "Account Name", "Billing Zip/Postal Code", "ARR", "Notes",
                               "problems"]
    assert q.to_dict("records")[1] == {"row": 4, "Account ID": "A4", "Account Name": "Bad arr",
                                       "Billing Zip/Postal Code": "30303", "ARR": "-1,000", "Notes": "y",
                                       "problems": "'ARR' is negative."}
    assert q["problems"].tolist()[0] == "Unknown ZIP code, and the account has no coordinates."
    assert q["problems"].tolist()[2] == "Duplicate account id A1: rows 1 and 6 both have it; row 6 was set aside."
    assert table.reasons == {2: ("unknown ZIP",), 4: ("negative ARR",), 6: ("duplicate id",)}


def test_every_reason_of_a_row_is_listed_once():
    table = _accounts("Account ID,Account Name,Zip,ARR,Win Rate\nA1,Bad,99999,-3,500\n")
    [problems] = table.quarantine["problems"].tolist()
    reasons = problems.split(" | ")
    assert sorted(reasons) == ["'ARR' is negative.", "Unknown ZIP code, and the account has no coordinates.",
                               "Win rate is outside 0-1 (or 0-100 %)."]


def test_every_issue_has_file_row_column_value_message_and_fix():
    table = _accounts("Account ID,Account Name,Zip,ARR,Win Rate,Latitude,Longitude\n"
                      "A1,a,99999,abc,2000,,\nA2,b,30301,,,-84.4,33.8\nA1,c,30303,,,,\n")
    issues = table.report.issues
    assert len(issues) >= 5
    for rec in issues.to_dict("records"):
        assert rec["file"] == "accounts.csv"
        assert isinstance(rec["row"], (int, np.integer)) and rec["row"] >= 1
        assert rec["column"] in {"Account ID", "Account Name", "Zip", "ARR", "Win Rate", "Latitude", "Longitude"}
        assert isinstance(rec["value"], str)
        assert rec["message"] and rec["fix"]


def test_stray_repeated_header_rows_are_skipped_with_a_warning():
    table = _accounts("Account ID,Account Name,Billing Zip/Postal Code,ARR\n"
                      "A1,a,30303,100\n"
                      "Account ID,Account Name,Billing Zip/Postal Code,ARR\n"
                      "A2,b,33131,200\n")
    assert table.data["account_id"].tolist() == ["A1", "A2"]
    assert table.data["row"].tolist() == [1, 3]
    assert table.quarantine.empty
    assert table.report.errors().empty
    [warning] = table.report.warnings().to_dict("records")
    assert warning["row"] == 2
    assert warning["value"] == "(header row)"
    assert warning["message"].startswith("This row repeats the header row")
    assert table.report.n_rows == 2 and table.report.n_valid == 2


def test_title_lines_and_stray_header_together():
    table = _accounts("Pipeline report\nRun by: admin\n"
                      "Account ID,Account Name,Zip\nA1,a,30303\nAccount ID,Account Name,Zip\nA2,b,2134\n")
    assert table.data["zip"].tolist() == ["30303", "02134"]
    assert table.report.errors().empty
    assert any(n.startswith("Skipped 2 title line(s)") for n in table.report.notes)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_bom_and_latin1_files_validate(encoding):
    data = "Account ID,Account Name,Zip\nA1,Café Québec,2134\n".encode(encoding)
    table = validate.validate_accounts(io.read_table(data, "enc.csv"), "enc.csv")
    assert table.report.ok
    assert table.data.loc[0, "account_id"] == "A1"
    assert table.data.loc[0, "name"] == "Café Québec"
    assert table.data.loc[0, "zip"] == "02134"
    assert len(table.report.notes) == 2  # the encoding note and the columns note


def test_all_rows_invalid_is_fatal():
    table = _accounts("Account ID,Account Name,Zip\nA1,a,99999\n")
    assert table.report.n_rows == 1 and table.report.n_valid == 0
    assert table.report.fatal
    doc = table.report.to_json_dict()
    assert doc["ok"] is False
    assert doc["errors"][-1]["message"] == "No valid rows are left after validation."


def test_report_to_json_dict_shape():
    table = _accounts("Account ID,Account Name,Zip\nA1,a,30301\nA2,b,99999\nA3,c,30303\n")
    doc = table.report.to_json_dict()
    assert set(doc) == {"ok", "n_rows", "n_valid", "errors", "warnings", "notes"}
    assert doc["ok"] is True and doc["n_rows"] == 3 and doc["n_valid"] == 2
    assert doc["errors"] == [{"file": "accounts.csv", "row": 2, "column": "Zip", "value": "99999",
                              "message": "Unknown ZIP code, and the account has no coordinates.",
                              "fix": "Check the ZIP for a typo, or add latitude/longitude."}]
    assert [w["row"] for w in doc["warnings"]] == [1]


def test_report_merged_keeps_both_sides():
    a = _accounts("Account ID,Account Name,Zip\nA1,a,99999\nA2,b,30303\n")
    b = _reps("Rep ID,Name,Home ZIP\nR1,Ann,30303\n")
    merged = a.report.merged(b.report)
    assert merged.n_rows == 2 and merged.n_valid == 1
    assert len(merged.issues) == len(a.report.issues) + len(b.report.issues)
    assert set(merged.issues["file"]) == {"accounts.csv", "reps.csv"}


# --- reps ------------------------------------------------------------------------------------------------------


def test_reps_are_validated_with_tenure_capacity_and_ramp(reps_csv):
    table = validate.validate_reps(io.read_table(reps_csv, "reps.csv"), "reps.csv")
    data = table.data
    assert data["rep_id"].tolist() == ["R01", "R02"]
    assert data["home_zip"].tolist() == ["30303", "33131"]
    assert data["home_city"].tolist() == ["Atlanta", "Miami"]
    assert data["tenure_years"].tolist() == [9.0, 1.5]
    assert data["ramp_stage"].tolist() == ["ramped", "ramping"]
    cap = CapacitySettings()
    assert data["capacity"].tolist() == [cap.full_capacity_units, cap.full_capacity_units * 0.8]
    assert data["capacity_source"].tolist() == ["tenure default", "tenure default"]
    assert table.report.issues.empty


def test_rep_manager_not_in_file_is_a_warning():
    table = _reps("Rep ID,Name,Home ZIP,Tenure,Manager\nR1,Ann,30303,3,\nR2,Bob,33131,2,R1\nR3,Cy,35203,0.5,R9\n")
    assert table.report.n_valid == 3
    [issue] = table.report.issues.to_dict("records")
    assert issue["row"] == 3 and issue["column"] == "Manager" and issue["value"] == "R9"
    assert issue["severity"] == "warning"
    assert issue["message"] == "This row refers to a rep id that is not in the reps file."
    assert table.data["manager_id"].tolist()[1:] == ["R1", "R9"]


def test_rep_without_tenure_is_warned_and_treated_as_ramped():
    table = _reps("Rep ID,Name,Home ZIP,Capacity\nR1,Ann,30303,\nR2,Bob,33131,120\n")
    assert table.data["ramp_stage"].tolist() == ["ramped", "ramped"]
    assert table.data["capacity"].tolist() == [150.0, 120.0]
    assert table.data["capacity_source"].tolist() == ["tenure default", "file"]
    assert table.report.warnings()["message"].unique().tolist() == [
        "No tenure given; the rep is treated as ramped."]


def test_reps_missing_home_base_is_fatal():
    table = _reps("Rep ID,Name\nR1,Ann\n")
    assert table.report.fatal
    assert table.report.issues["message"].iloc[0].startswith("The reps file has no home base column")


def test_rep_negative_tenure_and_duplicate_id_quarantine():
    table = _reps("Rep ID,Name,Home ZIP,Tenure\nR1,Ann,30303,-1\nR2,Bob,33131,2\nR2,Bob again,33131,2\n")
    assert table.data["rep_id"].tolist() == ["R2"]
    assert table.quarantine["row"].tolist() == [1, 3]
    assert table.quarantine["Name"].tolist() == ["Ann", "Bob again"]


# --- owners ----------------------------------------------------------------------------------------------------


def test_link_owners_by_id_or_name_and_unknown_owner_is_a_warning(salesforce_accounts_csv, reps_csv):
    accounts = validate.validate_accounts(io.read_table(salesforce_accounts_csv, "sf.csv"), "sf.csv")
    reps = validate.validate_reps(io.read_table(reps_csv, "reps.csv"), "reps.csv")
    data = accounts.data.copy()
    data.loc[2, "owner_rep_id"] = "dana whitfield"  # by name, any case
    linked, report = validate.link_owners(data, reps.data, "sf.csv", column="Account Owner")
    assert len(linked) == 4  # the account with an unknown owner is kept
    assert linked["owner_rep_id"].tolist()[:3] == ["R01", "R02", "R01"]
    assert pd.isna(linked.loc[3, "owner_rep_id"])  # unassigned
    assert linked.loc[3, "owner_original"] == "Zed Nobody"
    [issue] = report.issues.to_dict("records")
    assert issue["file"] == "sf.csv" and issue["row"] == 4 and issue["column"] == "Account Owner"
    assert issue["value"] == "Zed Nobody" and issue["severity"] == "warning"
    assert issue["message"] == "The owner is not in the reps file; the account is treated as unassigned."
    assert report.n_valid == 4 and report.ok


def test_link_owners_without_reps_leaves_accounts_unassigned(salesforce_accounts_csv):
    accounts = validate.validate_accounts(io.read_table(salesforce_accounts_csv, "sf.csv"), "sf.csv")
    linked, report = validate.link_owners(accounts.data, pd.DataFrame(columns=["rep_id", "name"]))
    assert linked["owner_rep_id"].isna().all()
    assert report.issues.empty


# --- padded ZIPs, formula ids, control characters ------------------------------------------------------------------


def test_padded_zips_are_warned_with_the_row_the_text_and_the_zip_used():
    table = _accounts("Account ID,Account Name,Zip\nA1,Allston,2134\nA2,Holtsville,501\nA3,Excel float,30303.0\n"
                      "A4,Excel float padded,2134.0\nA5,Plus four,02134-1234\nA6,Atlanta,30303\n")
    assert table.data["zip"].tolist() == ["02134", "00501", "30303", "02134", "02134", "30303"]
    warnings = table.report.warnings()
    padded = warnings[warnings["message"].str.startswith("ZIP '")]
    assert padded[["row", "column", "value"]].values.tolist() == [[1, "Zip", "2134"], [2, "Zip", "501"],
                                                                  [4, "Zip", "2134.0"]]
    assert padded["message"].tolist() == [
        "ZIP '2134' has 4 digits; read as 02134 (Allston, MA) — a leading zero lost in a spreadsheet?",
        "ZIP '501' has 3 digits; read as 00501 (Holtsville, NY) — leading zeros lost in a spreadsheet?",
        "ZIP '2134.0' has 4 digits; read as 02134 (Allston, MA) — a leading zero lost in a spreadsheet?"]
    assert table.report.n_valid == 6


def test_unknown_padded_zip_is_the_unknown_zip_error_only():
    table = _accounts("Account ID,Account Name,Zip\nA1,Nowhere,9999\n")
    assert table.report.issues["message"].tolist() == ["Unknown ZIP code, and the account has no coordinates."]


def test_ids_beginning_with_a_formula_sign_are_warned():
    table = _accounts("Account ID,Account Name,Zip,Account Owner\n+A1,a,30303,@R02\n=A2,b,30303,R01\n"
                      "A3,c,30303,-R9\nA4-1,d,30303,R01\n")
    warnings = table.report.warnings()
    assert warnings[["row", "column", "value"]].values.tolist() == [
        [1, "Account ID", "+A1"], [1, "Account Owner", "@R02"], [2, "Account ID", "=A2"], [3, "Account Owner", "-R9"]]
    assert warnings["message"].iloc[0] == ("The account id begins with '+', a formula sign: exports write it with a "
                                           "leading ' so that spreadsheets keep it as text (the plan importer "
                                           "removes the ' again).")
    assert warnings["message"].iloc[1].startswith("The owner begins with '@', a formula sign")
    assert set(warnings["fix"]) == {("Use a plain id, starting with a letter or digit, in the source system if you "
                                     "can.")}
    assert table.data["account_id"].tolist() == ["+A1", "=A2", "A3", "A4-1"]  # kept as typed


def test_rep_id_beginning_with_a_formula_sign_is_warned():
    table = _reps("Rep ID,Name,Home ZIP,Tenure\n+R02,Ann,30303,3\n")
    [issue] = table.report.issues.to_dict("records")
    assert (issue["column"], issue["value"], issue["severity"]) == ("Rep ID", "+R02", "warning")
    assert issue["message"].startswith("The rep id begins with '+', a formula sign")


def test_removed_control_characters_are_warnings_per_cell():
    table = _accounts("Account ID,Account Name,Zip,Notes\nA1,Ac\x00me\x00,30303,fine\nA2,Beta,30303,x\x07y\n"
                      + "".join(f"A{i},Filler,30303,\n" for i in range(3, 30)))
    warnings = table.report.warnings().to_dict("records")
    assert [(w["row"], w["column"], w["value"]) for w in warnings] == [(1, "Account Name", "Acme"),
                                                                       (2, "Notes", "xy")]
    assert warnings[0]["message"] == ("The cell held invisible control characters (such as NUL); they were removed "
                                      "from the text.")
    assert warnings[0]["fix"] == ("Removed 2 control character(s); check the text, and clean the field in the source "
                                  "system.")
    assert warnings[1]["fix"].startswith("Removed 1 control character(s)")
    assert table.data.loc[0, "name"] == "Acme" and table.data.loc[1, "Notes"] == "xy"


# --- implausible places ---------------------------------------------------------------------------------------------


def test_coordinates_far_from_their_zip_are_replaced_by_the_zip():
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Paris Maine,04101,48.8566,2.3522\n"
                      "A2,Near,30303,33.80,-84.30\nA3,Coords only,,33.80,-84.30\n")
    data = table.data
    assert data["location_source"].tolist() == ["zip centroid", "coordinates", "coordinates"]
    assert data.loc[0, "state"] == "ME"
    assert data.loc[0, "lat"] == pytest.approx(43.66, abs=0.1)
    [issue] = table.report.issues.to_dict("records")
    assert (issue["row"], issue["column"], issue["value"], issue["severity"]) == (1, "Latitude", "48.8566, 2.3522",
                                                                                    "warning")
    assert issue["message"] == ("The coordinates are 5,397 km from the centre of ZIP 04101 (Portland, ME); the ZIP's "
                                "location is used (the coordinates look like a geocoder's wrong match).")
    assert issue["fix"] == "Check the coordinates and the ZIP; correct or remove the wrong one."


def test_coordinates_within_the_distance_setting_are_kept():
    # 120 km from the Atlanta ZIP: a large rural ZIP can be that wide; under MAX_ZIP_DISTANCE_KM
    assert validate.MAX_ZIP_DISTANCE_KM == 150.0
    table = _accounts("Account ID,Account Name,Zip,Latitude,Longitude\nA1,Rural,30303,34.80,-84.00\n")
    assert table.data.loc[0, "location_source"] == "coordinates"
    assert table.report.issues.empty


def test_haversine_km():
    assert validate.haversine_km([33.7525], [-84.3888], [33.7525], [-84.3888])[0] == 0
    # Atlanta - Miami, about 974 km
    assert validate.haversine_km([33.7525], [-84.3888], [25.7743], [-80.1937])[0] == pytest.approx(974, abs=5)


# --- reps set aside, named ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "message"), [
    ("R2,Bob,99999,,", "Rep R2 (Bob) has no usable home base: unknown ZIP code, and there are no coordinates."),
    ("R2,Bob,ABC,,", ("Rep R2 (Bob) has no usable home base: the ZIP is not a US ZIP code, and there are no "
                      "coordinates.")),
    ("R2,Bob,,0,0", ("Rep R2 (Bob) has no usable home base: no ZIP code, and the coordinates are unusable (see the "
                     "warning).")),
    ("R2,Bob,,,", "Rep R2 (Bob) has no usable home base: no ZIP code or coordinates."),
    (",Bob,,,", "The rep on row 2 (Bob) has no usable home base: no ZIP code or coordinates."),
])
def test_rep_without_a_usable_home_base_is_named(line, message):
    table = _reps(f"Rep ID,Name,Home ZIP,Home Latitude,Home Longitude\nR1,Ann,30303,,\n{line}\n")
    assert table.data["rep_id"].tolist() == ["R1"]
    errors = table.report.errors()
    assert message in errors["message"].tolist()
    assert "no usable home base" in table.reasons[2]


def test_duplicate_rep_id_names_the_id_and_both_rows():
    table = _reps("Rep ID,Name,Home ZIP\nR1,Ann,30303\nR2,Bob,33131\nR1,Cy,35203\n")
    [error] = table.report.errors().to_dict("records")
    assert error["message"] == "Duplicate rep id R1: rows 1 and 3 both have it; row 3 was set aside."
    assert validate.set_aside_reps(table).to_dict("records") == [
        {"row": 3, "rep_id": "R1", "name": "Cy", "reason": "duplicate id"}]
    assert validate.describe_reps(validate.set_aside_reps(table)) == ["R1 (Cy, row 3: duplicate id)"]


def test_reps_file_without_a_usable_home_base_is_fatal_and_names_the_reps():
    table = _reps("Rep ID,Name,Home Latitude,Home Longitude\nR1,Ann,0,0\nR2,Bob,0,0\n")
    assert table.data.empty and table.report.fatal
    fatal = table.report.issues[table.report.issues["severity"] == "fatal"].to_dict("records")
    assert [f["message"] for f in fatal] == [("No rep in reps.csv has a usable home base: R1 (Ann, row 1), R2 (Bob, "
                                              "row 2).")]
    assert fatal[0]["fix"] == "Give each rep a home ZIP code (or home latitude and longitude) and load the file again."
    doc = table.report.to_json_dict()
    assert doc["errors"][0]["message"].startswith("No rep in reps.csv has a usable home base")
    assert "No valid rows are left after validation." not in [e["message"] for e in doc["errors"]]


def test_reps_file_with_no_usable_rep_for_other_reasons_names_them_with_the_reason():
    table = _reps("Rep ID,Name,Home ZIP,Tenure\nR1,Ann,30303,-1\nR2,Bob,99999,2\n")
    [fatal] = table.report.issues[table.report.issues["severity"] == "fatal"]["message"]
    assert fatal == ("No rep in reps.csv is usable: R1 (Ann, row 1: negative tenure), R2 (Bob, row 2: no usable home "
                     "base).")


def test_merged_report_keeps_the_reps_fatal():
    accounts = _accounts("Account ID,Account Name,Zip\nA1,a,30303\n")
    reps = _reps("Rep ID,Name,Home ZIP\nR1,Ann,99999\n")
    merged = accounts.report.merged(reps.report)
    assert merged.fatal and not merged.to_json_dict()["ok"]
    assert set(merged.to_json_dict()) == {"ok", "n_rows", "n_valid", "errors", "warnings", "notes"}


def test_short_list_caps_long_lists():
    assert validate.short_list(["a", "b"]) == "a, b"
    assert validate.short_list([str(i) for i in range(14)], limit=3) == "0, 1, 2 … and 11 more"


def test_link_owners_names_an_owner_whose_rep_row_was_set_aside():
    reps = _reps("Rep ID,Name,Home ZIP\nR1,Ann,30303\nR3,Priya,\nR1,Cy,35203\n")
    accounts = _accounts("Account ID,Account Name,Zip,Owner\nA1,a,30303,R3\nA2,b,30303,cy\nA3,c,30303,R1\n"
                         "A4,d,30303,Zed\n")
    linked, report = validate.link_owners(accounts.data, reps.data, "accounts.csv", column="Owner",
                                          set_aside=validate.set_aside_reps(reps), reps_file="reps.csv")
    assert linked["owner_rep_id"].tolist()[2] == "R1" and linked["owner_rep_id"].isna().tolist() == [True, True,
                                                                                                         False, True]
    issues = report.issues.to_dict("records")
    assert [i["message"] for i in issues] == [
        ("Owner R3 is a rep whose row was set aside: row 2 of reps.csv, no usable home base; the account is treated "
         "as unassigned."),
        ("Owner cy is a rep whose row was set aside: row 3 of reps.csv, duplicate id; the account is treated as "
         "unassigned."),
        "The owner is not in the reps file; the account is treated as unassigned."]
    assert issues[0]["fix"] == "Fix that row of reps.csv (see its error) and load the files again."


# --- wide files -------------------------------------------------------------------------------------------------


def test_wide_file_passes_every_column_through_and_finds_stray_headers():
    extra = [f"Custom {i}" for i in range(700)]
    header = ",".join(["Account ID", "Account Name", "Zip", *extra])
    rows = [",".join([f"A{r}", f"n{r}", "30303", *[f"v{r}.{i}" for i in range(700)]]) for r in range(5)]
    text = "\n".join([header, rows[0], rows[1], header, *rows[2:]]) + "\n"
    table = validate.validate_accounts(io.read_table(text.encode(), "wide.csv",
                                                     limits=InputLimits(max_columns=1000)), "wide.csv")
    assert table.data["row"].tolist() == [1, 2, 4, 5, 6]
    assert list(table.data.columns[-700:]) == extra
    assert table.data.loc[4, "Custom 699"] == "v4.699"
    [warning] = table.report.warnings().to_dict("records")
    assert warning["row"] == 3 and warning["message"].startswith("This row repeats the header row")
