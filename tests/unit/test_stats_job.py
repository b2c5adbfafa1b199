from lmdata.errors import EXIT_FATAL, ConfigError, FatalError
from lmdata.spark.job import Stage, execute
from lmdata.stats import StageStats, parse_stats_line


class _Ok(Stage):
    name = "ok-stage"

    def run(self, ctx):
        ctx.stats.rows_in, ctx.stats.rows_out = 10, 7
        ctx.stats.dropped["too_short"] += 3


class _Fatal(Stage):
    name = "fatal-stage"

    def run(self, ctx):
        raise FatalError("boom")


def test_stats_roundtrip():
    s = StageStats(stage="x", run_id="r")
    s.dropped["a"] += 2
    d = StageStats.from_dict(s.to_dict())
    assert d.dropped["a"] == 2
    assert parse_stats_line("noise\nLMDATA_STATS " + s.to_json() + "\nmore") == s.to_dict()


def test_execute_ok_records_stage_run_and_writes_stats(tmp_path, capsys):
    out = tmp_path / "stats.json"
    code, stats = execute(
        _Ok(),
        [
            "--lake",
            str(tmp_path / "lake"),
            "--params",
            "params.yaml",
            "--run-id",
            "r1",
            "--stats-out",
            str(out),
        ],
    )
    assert code == 0 and stats.status == "ok" and stats.dropped["too_short"] == 3
    printed = parse_stats_line(capsys.readouterr().out)
    assert printed["rows_out"] == 7 and out.exists()
    from lmdata.lake import delta

    runs = delta.read_arrow(delta.table_uri(str(tmp_path / "lake"), delta.STAGE_RUNS)).to_pylist()
    assert runs[0]["stage"] == "ok-stage" and runs[0]["run_id"] == "r1"


def test_execute_fatal_and_config_errors_exit_2(tmp_path):
    code, stats = execute(_Fatal(), ["--lake", str(tmp_path)])
    assert code == EXIT_FATAL and stats.status == "failed" and "boom" in stats.error
    code, stats = execute(_Ok(), ["--lake", str(tmp_path), "--set", "spark.nope=1"])
    assert code == EXIT_FATAL and "spark.nope: unknown key" in stats.error
    assert ConfigError.exit_code == EXIT_FATAL


def test_structured_counter_values_survive_json_round_trip():
    import json

    from lmdata.stats import StageStats

    s = StageStats("curate", "r1")
    s.counters["lines_removed"] += 7
    s.counters["repeated_lines_top"] = (("Accept cookies", 12), ("Home | About", 9))
    d = json.loads(s.to_json())
    assert d["counters"]["repeated_lines_top"] == [["Accept cookies", 12], ["Home | About", 9]]
    back = StageStats.from_dict(d)
    assert back.counters["lines_removed"] == 7
