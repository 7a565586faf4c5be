"""The ``skteam`` command line, run in process through ``main([...])``.

The fast tests use ``--model test::uniform`` (the grammar-only test double)
and tiny quotas; runs with equal data, seed and options share generated
batches through the in-process cache. The test marked ``slow`` runs the
embedded model.
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skteam.cli import main, parse_qc, parse_sampling_strategy, read_descriptions

COMMON = ["--model", "test::uniform", "--seed", "0", "--quiet"]
FAST = [*COMMON, "--batch-size", "5"]


def write_table(path, n=24, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "sex": rng.choice(["F", "M"], n),
        "y": np.where(np.arange(n) < n // 4, 1, 0),   # target in the middle
        "smoker": rng.choice(["yes", "no"], n),
    })
    df.to_csv(path, index=False)
    return df


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "train.csv"
    return path, write_table(path)


@pytest.fixture(scope="module")
def resampled(table, tmp_path_factory):
    """One resample run with a report, shared by several tests."""
    path, df = table
    out_dir = tmp_path_factory.mktemp("out")
    out, report = out_dir / "out.csv", out_dir / "report"
    code = main(["resample", str(path), "--target", "y", "-o", str(out), *FAST,
                 "--qc", "sanity", "--sampling-strategy", '{"1": 11}',
                 "--mark-synthetic", "--report", str(report)])
    return code, out, report


def test_resample_end_to_end(table, resampled):
    _, df = table
    code, out, _ = resampled
    assert code == 0
    res = pd.read_csv(out)
    assert list(res.columns) == [*df.columns, "synthetic"]
    assert len(res) == len(df) + 5
    assert res["y"].value_counts().to_dict() == {0: 18, 1: 11}
    assert res["synthetic"].tolist() == [False] * len(df) + [True] * 5
    pd.testing.assert_frame_equal(res.iloc[:len(df), :-1], df)
    new = res[res["synthetic"]]
    assert set(new["sex"]) <= {"F", "M"} and set(new["smoker"]) <= {"yes", "no"}
    assert (new["y"] == 1).all()


def test_resample_report_files(resampled):
    _, _, report = resampled
    names = {p.name for p in report.iterdir()}
    assert {"qc_report.csv", "plan.json", "qc_acceptance.png", "marginals.png",
            "projection.png", "index.html"} <= names
    qc = pd.read_csv(report / "qc_report.csv")
    assert qc["kept"].sum() == 5
    page = (report / "index.html").read_text()
    for name in ["qc_acceptance.png", "marginals.png", "projection.png"]:
        assert f'src="{name}"' in page


def test_report_command_writes_only_the_report(table, resampled, tmp_path):
    path, _ = table
    out = tmp_path / "rep"
    code = main(["report", str(path), "--target", "y", "-o", str(out), *FAST,
                 "--qc", "sanity", "--sampling-strategy", '{"1": 11}'])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in resampled[2].iterdir())
    # same data, seed and options: the same batches (from the in-process cache)
    pd.testing.assert_frame_equal(pd.read_csv(out / "qc_report.csv").drop(
        columns=["cached", "seconds"]), pd.read_csv(
        resampled[2] / "qc_report.csv").drop(columns=["cached", "seconds"]))
    assert not list(tmp_path.glob("*.csv"))


def test_plan_save_edit_resample(table, resampled, tmp_path, capsys):
    path, df = table
    # printed plan == saved plan == the plan the sampler used
    assert main(["plan", str(path), "--target", "y", *COMMON]) == 0
    printed = json.loads(capsys.readouterr().out)
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(path), "--target", "y", "-o", str(plan_file),
                 *COMMON]) == 0
    saved = json.loads(plan_file.read_text())
    assert saved == printed
    assert saved == json.loads((resampled[2] / "plan.json").read_text())
    features = [f for r in saved["roles"] for f in r["features"]]
    assert sorted(features) == sorted(c for c in df.columns if c != "y")

    # edit: "age" gets a role of its own that every other role depends on
    edited = {"roles": [{"name": "Demographics", "features": ["age"]}], "edges": []}
    for role in saved["roles"]:
        rest = [f for f in role["features"] if f != "age"]
        if rest:
            edited["roles"].append({"name": role["name"], "features": rest})
            edited["edges"].append(["Demographics", role["name"]])
    plan_file.write_text(json.dumps(edited, indent=2))
    out = tmp_path / "out.csv"
    report = tmp_path / "report"
    code = main(["resample", str(path), "--target", "y", "-o", str(out), *FAST,
                 "--qc", "none", "--sampling-strategy", '{"1": 11}',
                 "--plan", str(plan_file), "--report", str(report)])
    assert code == 0
    used = json.loads((report / "plan.json").read_text())
    assert used["roles"] == edited["roles"] and used["edges"] == edited["edges"]
    assert used["source"] == "user"
    res = pd.read_csv(out)
    assert list(res.columns) == list(df.columns) and len(res) == len(df) + 5


def one_line_error(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("skteam: error: ")
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("extra, expected", [
    (["--target", "nope"], "target column 'nope'"),
    (["--target", "y", "--sampling-strategy", "{bad json"], "not valid JSON"),
    (["--target", "y", "--sampling-strategy", '{"7": 40}'], "class '7'"),
    (["--target", "y", "--sampling-strategy", "sometimes"], "not understood"),
    (["--target", "y", "--qc", "sanity,speed"], "unknown stage"),
    (["--target", "y", "--model", "/no/such/model"], "does not exist"),
    (["--target", "y", "--batch-size", "0"], "batch_size"),
    (["--target", "y", "--n-jobs", "0"], "n_jobs=0"),
    (["--target", "y", "--constraints", "/no/such/file.txt"], "does not exist"),
    (["--target", "y", "--mark-synthetic", "sex"], "already exists"),
])
def test_bad_input_one_line_error(table, tmp_path, capsys, extra, expected):
    path, _ = table
    code = main(["resample", str(path), "-o", str(tmp_path / "o.csv"),
                 "--model", "test::uniform", "--quiet", *extra])
    assert code == 1
    assert expected in one_line_error(capsys)
    assert not (tmp_path / "o.csv").exists()


def test_bad_files_one_line_error(table, tmp_path, capsys):
    path, _ = table
    base = ["resample", str(path), "--target", "y", "-o", str(tmp_path / "o.csv"),
            "--model", "test::uniform", "--quiet"]
    assert main(["resample", str(tmp_path / "missing.csv"), "--target", "y",
                 "-o", "x.csv"]) == 1
    assert "does not exist" in one_line_error(capsys)

    bad_plan = tmp_path / "plan.json"
    bad_plan.write_text('{"roles": [')
    assert main([*base, "--plan", str(bad_plan)]) == 1
    assert "not valid JSON" in one_line_error(capsys)

    # an edit that leaves a feature out, or names an unknown one
    bad_plan.write_text(json.dumps({"roles": [
        {"name": "A", "features": ["age", "bmi", "sex"]}]}))
    assert main([*base, "--plan", str(bad_plan)]) == 1
    assert "smoker" in one_line_error(capsys)
    bad_plan.write_text(json.dumps({"roles": [
        {"name": "A", "features": ["age", "bmi", "sex", "smoker", "height"]}]}))
    assert main([*base, "--plan", str(bad_plan)]) == 1
    assert "height" in one_line_error(capsys)

    desc = tmp_path / "desc.json"
    desc.write_text('{"weight": "kg"}')
    assert main([*base, "--descriptions", str(desc)]) == 1
    assert "weight" in one_line_error(capsys)

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["resample", str(empty), "--target", "y", "-o", "x.csv"]) == 1
    assert "empty" in one_line_error(capsys)

    assert main(["resample", str(path), "--target", "y", "-o",
                 str(tmp_path / "no" / "dir" / "o.csv")]) == 1
    assert "does not exist" in one_line_error(capsys)
    assert main([*base, "--report", str(empty)]) == 1
    assert "not a directory" in one_line_error(capsys)


def test_shortfall_writes_partial_report(table, tmp_path, capsys):
    path, _ = table
    cons = tmp_path / "c.txt"
    cons.write_text("age >= 60\nbmi <= 15\n")  # (almost) no row satisfies both
    out, report = tmp_path / "o.csv", tmp_path / "report"
    code = main(["resample", str(path), "--target", "y", "-o", str(out), *FAST,
                 "--qc", "sanity", "--constraints", str(cons), "--max-batches", "1",
                 "--report", str(report)])
    assert code == 1
    line = one_line_error(capsys)
    assert "could not fill every class quota" in line and str(report) in line
    assert not out.exists()
    qc = pd.read_csv(report / "qc_report.csv")
    assert len(qc) == 1 and qc["dropped_sanity"].sum() > 0
    assert (report / "qc_acceptance.png").is_file()
    assert (report / "index.html").is_file()
    assert not (report / "marginals.png").exists()


def test_bad_command_line(capsys):
    assert main(["resample", "train.csv", "-o", "x.csv"]) == 2   # no --target
    err = capsys.readouterr().err
    assert err.startswith("skteam: error: ") and "--target" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["frobnicate"]) == 2
    assert main([]) == 2


def test_help_has_examples(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "skteam resample train.csv --target y" in text
    for command in ["resample", "plan", "report"]:
        assert main([command, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


def test_python_dash_m_version():
    import skteam

    result = subprocess.run([sys.executable, "-m", "skteam", "--version"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0
    assert result.stdout.strip() == f"skteam {skteam.__version__}"


def test_debug_shows_traceback(table, tmp_path):
    path, _ = table
    with pytest.raises(Exception, match="target column"):
        main(["resample", str(path), "--target", "nope", "-o",
              str(tmp_path / "o.csv"), "--debug"])


def test_parsers(tmp_path):
    y = pd.Series([0, 0, 1, 2])
    assert parse_sampling_strategy('{"1": 40, "2": 30}', y) == {1: 40, 2: 30}
    assert all(type(k) is int for k in parse_sampling_strategy('{"1": 4}', y))
    assert parse_sampling_strategy(
        '{"b": 4}', pd.Series(["a", "b"])) == {"b": 4}
    assert parse_sampling_strategy(
        '{"true": 4}', pd.Series([True, False])) == {True: 4}
    assert parse_sampling_strategy(" Not Majority ", y) == "not majority"
    assert parse_sampling_strategy("0.5", y) == 0.5
    assert parse_qc("none") == () and parse_qc("cost, sanity") == ("cost", "sanity")
    desc = tmp_path / "d.csv"
    desc.write_text('column,description\nage,age in years\nbmi,"body mass, kg/m2"\n')
    assert read_descriptions(desc) == {"age": "age in years",
                                       "bmi": "body mass, kg/m2"}


def test_constraints_and_descriptions_files(table, resampled, tmp_path):
    """Files are read and reach the sampler (a run with the uniform backend)."""
    from skteam import cli

    path, _ = table
    cons = tmp_path / "c.txt"
    cons.write_text("# bounds\n\n20 <= age <= 60\nbmi >= 18   \n")
    assert cli.read_constraints(cons) == ["20 <= age <= 60", "bmi >= 18"]
    desc = tmp_path / "d.json"
    desc.write_text('{"age": "age in years"}')
    args = cli.build_parser().parse_args(
        ["resample", str(path), "--target", "y", "-o", "o.csv", "--constraints",
         str(cons), "--descriptions", str(desc), "--qc", "sanity,cost",
         "--sampling-strategy", "minority", *FAST])
    _, X, y = cli._read_table(args)
    sampler = cli._make_sampler(args, X, y)
    assert sampler.constraints == ["20 <= age <= 60", "bmi >= 18"]
    assert sampler.feature_descriptions == {"age": "age in years"}
    assert sampler.qc == ("sanity", "cost")
    assert sampler.sampling_strategy == "minority"
    assert sampler.verbose == 0 and sampler.random_state == 0


@pytest.mark.parametrize("option, param, value", [
    ("--cost-c", "cost_c", 2.0),
    ("--diversity-threshold", "diversity_threshold", 0.55),
    ("--batch-size", "batch_size", 7),
    ("--on-shortfall", "on_shortfall", "warn"),
    ("--n-jobs", "n_jobs", 2),
])
def test_qc_options_are_the_samplers_unless_given(table, option, param, value):
    from skteam import TeamTrimSampler, cli

    path, _ = table
    base = ["resample", str(path), "--target", "y", "-o", "o.csv", *COMMON]
    default = TeamTrimSampler().get_params()[param]
    assert default != value
    for extra, expected in (([], default), ([option, str(value)], value)):
        args = cli.build_parser().parse_args(base + extra)
        _, X, y = cli._read_table(args)
        assert cli._make_sampler(args, X, y).get_params()[param] == expected


def test_help_names_the_samplers_defaults(monkeypatch):
    from skteam import TeamTrimSampler, cli

    sub = cli.build_parser()._subparsers._group_actions[0].choices["resample"]
    help_text = " ".join(sub.format_help().split())
    params = TeamTrimSampler().get_params()
    for param in cli._SAMPLER_DEFAULTED:
        assert f"sampler's, {params[param]})" in help_text, param
    # the help reads the defaults, it does not repeat them
    monkeypatch.setattr(cli, "_sampler_defaults", lambda: {
        "batch_size": 99, "cost_c": 9.5, "diversity_threshold": 0.9,
        "on_shortfall": "warn"})
    sub = cli.build_parser()._subparsers._group_actions[0].choices["resample"]
    assert "sampler's, 99)" in " ".join(sub.format_help().split())


@pytest.mark.slow
def test_resample_with_embedded_model(tmp_path):
    rng = np.random.default_rng(0)
    n = 16
    df = pd.DataFrame({"x": np.round(rng.normal(5, 1, n), 1),
                       "kind": rng.choice(["a", "b"], n),
                       "label": ["yes"] * 4 + ["no"] * (n - 4)})
    path = tmp_path / "tiny.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "out.csv"
    code = main(["resample", str(path), "--target", "label", "-o", str(out),
                 "--qc", "none", "--sampling-strategy", '{"yes": 6}',
                 "--batch-size", "2", "--on-shortfall", "warn", "--seed", "0",
                 "--mark-synthetic", "--quiet"])
    assert code == 0
    res = pd.read_csv(out)
    assert list(res.columns) == [*df.columns, "synthetic"]
    assert len(df) < len(res) <= len(df) + 2
    assert (res.loc[res["synthetic"], "label"] == "yes").all()


@pytest.mark.parametrize("constrained", [False, True])
def test_plan_then_resample_with_it_equals_resample(table, tmp_path, constrained):
    """``skteam plan`` + ``resample --plan`` runs the plan ``resample`` chooses.

    With declared constraints, skteam's own plan is reordered for them in
    both commands (one ``make_plan``), so the rows are the same too.
    """
    path, _ = table
    extra = []
    if constrained:
        rules = tmp_path / "constraints.txt"
        rules.write_text("# declared relation\nage >= bmi\n")
        extra = ["--constraints", str(rules)]
    plan_file = tmp_path / "plan.json"
    assert main(["plan", str(path), "--target", "y", "-o", str(plan_file),
                 *COMMON, *extra]) == 0
    saved = json.loads(plan_file.read_text())
    runs = {}
    for name, plan_args in [("own", []), ("saved", ["--plan", str(plan_file)])]:
        out, report = tmp_path / f"{name}.csv", tmp_path / f"{name}-report"
        assert main(["resample", str(path), "--target", "y", "-o", str(out),
                     *FAST, "--qc", "sanity", "--sampling-strategy", '{"1": 16}',
                     "--report", str(report), *extra, *plan_args]) == 0
        runs[name] = (pd.read_csv(out), json.loads((report / "plan.json").read_text()))
    own_plan = runs["own"][1]
    assert own_plan == saved  # source and repairs included
    assert runs["saved"][1]["roles"] == saved["roles"]
    assert runs["saved"][1]["edges"] == saved["edges"]
    pd.testing.assert_frame_equal(runs["own"][0], runs["saved"][0])
    if constrained:
        # one of the two columns is written in a role downstream of the
        # other's, so that column's worker keeps to the constraint
        from skteam import Schema
        from skteam.team import load_plan

        plan = load_plan(saved, Schema.infer(pd.read_csv(path).drop(columns="y")))
        owner = {f: r.name for r in plan.roles for f in r.features}
        assert (owner["age"] in plan.ancestors(owner["bmi"])
                or owner["bmi"] in plan.ancestors(owner["age"]))


def test_resample_writes_the_provenance_table(table, tmp_path):
    path, df = table
    out, prov = tmp_path / "out.csv", tmp_path / "provenance.csv"
    assert main(["resample", str(path), "--target", "y", "-o", str(out), *FAST,
                 "--qc", "sanity", "--sampling-strategy", '{"1": 11}',
                 "--mark-synthetic", "--provenance", str(prov)]) == 0
    from skteam.provenance import PROVENANCE_COLUMNS

    table_ = pd.read_csv(prov)
    assert list(table_.columns) == PROVENANCE_COLUMNS
    res = pd.read_csv(out)
    assert table_["row"].tolist() == list(np.flatnonzero(res["synthetic"]))
    assert (table_["status"] == "accepted").all()
