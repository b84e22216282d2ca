"""Named producers from a user file (`critmin shock --producers`, critmin.market.named)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from critmin.errors import DataFileError
from critmin.market import build
from critmin.market.named import load_named_producers
from critmin.market.report import shock_report

SCEN = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / \
    "nornickel_nickel_guidance_2025.yaml"



def _csv(tmp_path, text, name="producers.csv"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


def test_file_stating_the_default_split_reproduces_the_default_run(con, tmp_path):
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,Russia,1.0\n")
    t0, m0 = shock_report(con, SCEN, draws=200, seed=3)
    t1, m1 = shock_report(con, SCEN, draws=200, seed=3, producers=f)
    # the same rows in the same order: identical draws and clearing, to float round-off
    num = [c for c in t0.columns if c != "metric"]
    assert list(t1["metric"]) == list(t0["metric"])
    assert t1[num].to_numpy() == pytest.approx(t0[num].to_numpy(), rel=1e-12, abs=1e-9)
    assert "Nornickel (RUS, sulphide" in m1["named_producers"]
    assert "Nornickel" in m1["applied"]


def test_a_smaller_share_moves_the_cut_target(con, tmp_path):
    # Nornickel at 60% of Russian output: the same 7.5 kt cut is a larger share of a smaller
    # producer but the same tonnage, so the world price moves by the same amount (the cut's
    # t, not its share, enter the world balance) while the log's share rises by 1/0.6
    f = _csv(tmp_path, "producer,country,share_of_country_output\nNornickel,RUS,0.6\n")
    t0, m0 = shock_report(con, SCEN, draws=100, seed=3)
    t1, m1 = shock_report(con, SCEN, draws=100, seed=3, producers=f)
    s0, s1 = (float(m["applied"].split("−")[1].split("%")[0]) for m in (m0, m1))
    # the log prints shares to 0.01 points: ±0.005 on s0, ±0.0084 after / 0.6
    assert s1 == pytest.approx(s0 / 0.6, abs=0.0084 + 0.005)
    p0 = t0.set_index("metric").loc["price_usd_per_t", "shocked_P50"]
    p1 = t1.set_index("metric").loc["price_usd_per_t", "shocked_P50"]
    assert p1 == pytest.approx(p0, rel=1e-6)


def test_rows_resolve_to_tonnes_and_band_costs(tmp_path):
    curve = build.load_cost_curve("nickel")
    prod = pd.Series({"RUS": 200_000.0, "CAN": 150_000.0})
    f = _csv(tmp_path, "producer,country,share_of_country_output,capacity_t,technology,"
             "c1_usd_per_t,commodity\n"
             "Nornickel,RUS,0.9,,,,nickel\nVale Canada,CAN,,60000,sulphide,12000,nickel\n"
             "Other,RUS,0.5,,,,copper\n")
    t = load_named_producers(f, "nickel", prod, curve)
    band = curve.set_index("band").loc["sulphide"]
    assert list(t["producer"]) == ["Nornickel", "Vale Canada"]
    assert t["capacity_t"].tolist() == pytest.approx([180_000.0, 60_000.0], rel=1e-12)
    assert t["c1_usd_per_t"].tolist() == pytest.approx(
        [(band["c1_low_usd_per_t"] + band["c1_high_usd_per_t"]) / 2, 12_000.0])


@pytest.mark.parametrize("text,line,field,words", [
    ("producer,country,share_of_country_output\nNornickel,RUS,1.2\n", 2,
     "share_of_country_output", "not in (0, 1]"),
    ("producer,country,share_of_country_output\nA,RUS,0.7\nB,RUS,0.4\n", 3,
     "share_of_country_output", "add up to 1.1"),
    ("producer,country,share_of_country_output\nNornickel,Atlantis,0.5\n", 2, "country",
     "unknown country"),
    ("producer,share_of_country_output\nNornickel,0.5\n", 1, "country", "missing column"),
    ("producer,country\nNornickel,RUS\n", 1, "share_of_country_output", "missing column"),
    ("producer,country,share_of_country_output,capacity_t\nN,RUS,0.5,100\n", 2,
     "share_of_country_output", "exactly one"),
    ("producer,country,capacity_t\nN,CAN,100\n", 2, "technology", "needed for CAN"),
    ("producer,country,capacity_t,technology\nN,CAN,100,fusion\n", 2, "technology",
     "no band 'fusion'"),
    ("producer,country,share_of_country_output\nN,RUS,half\n", 2, "share_of_country_output",
     "not a number"),
])
def test_bad_files_name_file_line_and_field(tmp_path, text, line, field, words):
    f = _csv(tmp_path, text)
    with pytest.raises(DataFileError) as e:
        load_named_producers(f, "nickel", pd.Series({"RUS": 200_000.0}),
                             build.load_cost_curve("nickel"))
    assert e.value.path == str(f) and e.value.line == line and e.value.field == field
    assert words in str(e.value)


def test_cli_producers_option(warehouse_copy, tmp_path):
    from typer.testing import CliRunner
    from critmin.cli import app
    r = CliRunner().invoke(app, ["shock", str(SCEN), "--draws", "20", "--producers",
                                 str(_csv(tmp_path, "producer,country,share\nN,RUS,1\n")),
                                 "--format", "csv"])
    assert r.exit_code != 0
    assert "producers.csv, line 1, field 'share_of_country_output'" in r.output
