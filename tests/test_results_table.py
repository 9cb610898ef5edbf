"""The tables of the README and docs/results.md come from scripts/results_table.py, never by hand."""
import importlib.util
import json
import subprocess

import pytest
import yaml

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("results_table", REPO / "scripts/results_table.py")
results_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(results_table)


def current(commit: str | None) -> bool:
    """Every row ran the pipeline code checked out."""
    return True


@pytest.fixture
def verdict_on_one_seed(monkeypatch):
    """The tests of what a claim compares use one or two seeds; the seed count a verdict
    needs has its own test."""
    monkeypatch.setattr(results_table, "VERDICT_SEEDS", 1)


def _metrics(cam, rw, crf, seg, full=0.8, boat_fp=0.2):
    stage = lambda m: {"miou": m, "per_class": {"background": {"iou": 0.9}, "boat": {"iou": m}}}  # noqa: E731
    return {"classifier": {"val_map": 0.99}, "cam": {**stage(cam), "oracle_miou": cam + 0.05, "context_fp": {"boat": boat_fp}},
            "rw": stage(rw), "crf": stage(crf),
            "seg": {**stage(seg), "full_miou": full, "ratio": seg / full}}


def test_stage_table_lists_every_seed_and_the_mean():
    rows = [{"settings": {"seed": "0"}, "metrics": _metrics(0.5, 0.6, 0.7, 0.6)},
            {"settings": {"seed": "1"}, "metrics": _metrics(0.7, 0.8, 0.9, 0.7)}]
    table = results_table.render_stages(rows)
    assert "| 0 | 0.990 | 0.500 | 0.600 | 0.700 | 0.600 | 0.800 | 0.750 |" in table
    assert "| mean ± sd | 0.990 ± 0.000 | 0.600 ± 0.141 |" in table
    assert "| boat | 0.700 | 0.900 | 0.141 |" in table  # the CRF IoU of each class per seed, and its sd


def test_stage_table_leaves_rows_of_earlier_code_out_of_the_mean_and_shows_each_runs_epochs():
    training = {"classifier": {"epochs": 20, "still_learning": False},
                "deeplab_full": {"epochs": 20, "still_learning": True}}
    rows = [{"settings": {"seed": "0"}, "metrics": {**_metrics(0.5, 0.6, 0.7, 0.6), "training": training},
             "commit": "abc1234", "machine": "CPU X, 2 cores"},
            {"settings": {"seed": "1"}, "metrics": _metrics(0.7, 0.8, 0.9, 0.7), "commit": "abc1234",
             "machine": "CPU X, 2 cores"},
            {"settings": {"seed": "2"}, "metrics": _metrics(0.1, 0.1, 0.1, 0.1), "commit": "0ld0000"}]
    table = results_table.render_stages(rows, lambda row: row["commit"] == "abc1234")
    assert "| mean ± sd | 0.990 ± 0.000 | 0.600 ± 0.141 |" in table  # seed 2 ran other code: not in the mean
    assert "| 2 [earlier pipeline code] | 0.990 | 0.100 |" in table
    assert "| seed | classifier | AffinityNet | DeepLab | fully supervised |" in table
    assert "| 0 | 20 | – | – | 20* |" in table  # * still learning at its last length
    assert "Ran: seeds 0, 1 at commit abc1234 on CPU X, 2 cores." in table


def test_method_table_leaves_stages_that_did_not_run_empty():
    partial = _metrics(0.5, 0.6, 0.7, 0.6)
    for key in ("rw", "crf", "seg"):
        del partial[key]
    rows = [{"settings": {"train_classifier.method": "gain", "seed": "0"}, "metrics": partial}]
    assert "| gain | 1 | 0.990 | 0.500 | 0.550 | – | – | – | – | – | 0.200 |" in results_table.render_methods(rows, [], current)


def test_a_table_is_replaced_between_its_markers_in_the_document_that_holds_them(tmp_path, monkeypatch):
    readme, findings = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text("intro\n<!-- results:stages:start -->\nold\n<!-- results:stages:end -->\noutro\n")
    findings.write_text("why\n<!-- results:methods:start -->\nold\n<!-- results:methods:end -->\n")
    monkeypatch.setattr(results_table, "DOCUMENTS", (readme, findings))
    results_table.write_table("stages", "| new |\n")
    results_table.write_table("methods", "| why |\n")
    assert readme.read_text() == "intro\n<!-- results:stages:start -->\n| new |\n<!-- results:stages:end -->\noutro\n"
    assert findings.read_text() == "why\n<!-- results:methods:start -->\n| why |\n<!-- results:methods:end -->\n"
    with pytest.raises(SystemExit):
        results_table.write_table("checks", "x")  # in no document


def test_a_table_whose_markers_are_in_two_documents_is_refused(tmp_path, monkeypatch):
    copies = [tmp_path / "a.md", tmp_path / "b.md"]
    for copy in copies:
        copy.write_text("<!-- results:stages:start -->\nold\n<!-- results:stages:end -->\n")
    monkeypatch.setattr(results_table, "DOCUMENTS", tuple(copies))
    with pytest.raises(SystemExit, match="exactly one document"):
        results_table.write_table("stages", "| new |\n")
    untouched = "<!-- results:stages:start -->\nold\n<!-- results:stages:end -->\n"
    assert all(copy.read_text() == untouched for copy in copies)


def test_a_table_inside_a_list_item_keeps_its_indentation(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("- item\n\n  <!-- results:stages:start -->\n  old\n  <!-- results:stages:end -->\n")
    monkeypatch.setattr(results_table, "DOCUMENTS", (readme,))
    results_table.write_table("stages", "| a |\n|---|\n")
    assert readme.read_text() == ("- item\n\n  <!-- results:stages:start -->\n  | a |\n  |---|\n"
                                  "  <!-- results:stages:end -->\n")


def test_the_documents_tables_are_those_the_stored_results_give(tmp_path, monkeypatch):
    """Every generated table in the README and docs/results.md is present and matches results/*.json:
    none was typed or edited."""
    originals = [REPO / document for document in results_table.DOCUMENTS]
    copies = [tmp_path / f"{i}_{original.name}" for i, original in enumerate(originals)]
    for original, copy in zip(originals, copies):
        copy.write_text(original.read_text())
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(results_table, "DOCUMENTS", tuple(copies))
    results_table.render()
    for original, copy in zip(originals, copies):
        assert copy.read_text() == original.read_text(), original


def test_new_rows_replace_rows_with_the_same_settings_and_keep_the_others():
    row = lambda method, seed, miou: {"settings": {"train_classifier.method": method, "seed": seed},  # noqa: E731
                                      "metrics": {"cam": {"miou": miou}}}
    kept = [row("cam", "0", 0.1), row("gain", "0", 0.2)]
    merged = results_table.merge_rows(kept, [row("gain", "0", 0.3), row("gain", "1", 0.4)])
    assert merged == [row("cam", "0", 0.1), row("gain", "0", 0.3), row("gain", "1", 0.4)]


def test_a_check_run_on_another_machine_is_kept_beside_the_first(tmp_path, monkeypatch):
    monkeypatch.setattr(results_table, "RESULTS", tmp_path)
    row = lambda cpu, crf: {"settings": {"check": "machine", "seed": "0"}, "metrics": {"crf": {"miou": crf}},  # noqa: E731
                            "machine": cpu}
    for saved in (row("Xeon, 2 cores", 0.91), row("EPYC, 2 cores", 0.92), row("Xeon, 2 cores", 0.93)):
        results_table.save_row("checks", saved)
    assert results_table._rows("checks") == [row("Xeon, 2 cores", 0.93), row("EPYC, 2 cores", 0.92)]


def test_method_findings_are_generated_from_the_figures(verdict_on_one_seed):
    rows = [{"settings": {"train_classifier.method": method, "seed": seed},
             "metrics": _metrics(cam, 0, 0, 0, boat_fp=fp)}
            for method, seed, cam, fp in [("cam", "0", 0.6, 0.1), ("cam", "1", 0.6, 0.1), ("gain", "0", 0.5, 0.4),
                                          ("gain", "1", 0.65, 0.1), ("gain_ext", "0", 0.5, 0.3), ("gain_ext", "1", 0.5, 0.3)]]
    text = results_table.render_methods(rows, [], current)
    assert ("- `gain` does not raise the CAM-stage mIoU against `cam`: 0.575 vs 0.600 "
            "(mean of seeds 0, 1; higher on 1 of 2)") in text
    assert ("- `gain_ext` does not lower the share of the 'boat' context labelled 'boat' by the CAM against `gain`: "
            "0.300 vs 0.250 (mean of seeds 0, 1; lower on 1 of 2)") in text
    assert "- `gain_ext` does not lower the share of the 'boat' context labelled 'boat' by the CAM against `cam`" in text
    assert "puzzle" not in text  # no runs, no sentence


def test_a_verdict_needs_three_seeds():
    def rows(cams):
        return [{"settings": {"train_classifier.method": "puzzle", "seed": str(s)}, "metrics": _metrics(cam, 0, 0, 0)}
                for s, cam in enumerate(cams)]

    stage_rows = [{"settings": {"seed": str(s)}, "metrics": _metrics(0.6, 0, 0, 0)} for s in range(3)]
    two = results_table.render_methods(rows([0.7, 0.7]), stage_rows, current)
    assert ("- `puzzle` against `cam`, the CAM-stage mIoU: 0.700 vs 0.600 (mean of seeds 0, 1; higher on 2 of 2; "
            "too few seeds for a verdict)") in two
    three = results_table.render_methods(rows([0.7, 0.7, 0.5]), stage_rows, current)
    assert ("- `puzzle` raises the CAM-stage mIoU against `cam`: 0.633 vs 0.600 "
            "(mean of seeds 0, 1, 2; higher on 2 of 3)") in three


def test_the_stage_table_runs_are_the_cam_rows_of_the_method_table(verdict_on_one_seed):
    stage_rows = [{"settings": {"seed": "0"}, "metrics": _metrics(0.6, 0.65, 0.7, 0.6)}]
    rows = [{"settings": {"train_classifier.method": "puzzle", "seed": "0"}, "metrics": _metrics(0.65, 0.7, 0.72, 0.6)}]
    text = results_table.render_methods(rows, stage_rows, current)
    assert "| cam | 1 | 0.990 | 0.600 | 0.650 | 0.650 | 0.700 | 0.600 | 0.800 | 0.750 | 0.200 |" in text  # with its yardstick
    assert "- `puzzle` raises the CRF mIoU against `cam`: 0.720 vs 0.700 (mean of seeds 0; higher on 1 of 1)" in text


def test_a_partial_run_reruns_every_scoring_stage_before_its_last():
    assert results_table.stages_through("crf") == ["train_classifier", "eval_cams", "random_walk", "crf"]


def test_method_table_shows_the_iou_of_each_class():
    rows = [{"settings": {"train_classifier.method": "puzzle", "seed": seed}, "metrics": _metrics(cam, 0.7, 0.7, 0.6)}
            for seed, cam in (("0", 0.4), ("1", 0.6))]
    text = results_table.render_methods(rows, [], current)
    assert "IoU per class at the CAM stage" in text and "| method | background | boat |" in text
    assert "| puzzle | 0.90 | 0.50 |" in text


def _puzzle_rows_where_seed_1_stopped_before(stage: str) -> list[dict]:
    partial = _metrics(0.5, 0.6, 0.7, 0.6)
    del partial[stage]
    return [{"settings": {"train_classifier.method": "puzzle", "seed": "0"}, "metrics": _metrics(0.4, 0.7, 0.8, 0.6)},
            {"settings": {"train_classifier.method": "puzzle", "seed": "1"}, "metrics": partial}]


def test_a_stage_reached_by_some_seeds_of_a_row_is_averaged_over_them_and_names_them():
    text = results_table.render_methods(_puzzle_rows_where_seed_1_stopped_before("seg"), [], current)
    assert "| puzzle | 2 | 0.990 ± 0.000 | 0.450 ± 0.071 |" in text  # the CAM stage: both seeds
    assert "| 0.750 ± 0.071 | 0.600 (seed 0) | 0.800 (seed 0) | 0.750 (seed 0) |" in text  # DeepLab: seed 0 alone


def test_a_class_row_reached_by_some_seeds_only_names_them():
    text = results_table.render_methods(_puzzle_rows_where_seed_1_stopped_before("crf"), [], current)
    assert "| puzzle | 0.90 | 0.45 |" in text  # the CAM stage: both seeds
    assert "| puzzle, seed 0 only | 0.90 | 0.80 |" in text  # the CRF stage: seed 0 alone


def test_an_ablation_row_is_its_own_row_and_makes_no_claim_of_the_published_settings():
    stage_rows = [{"settings": {"seed": "0"}, "metrics": _metrics(0.6, 0.65, 0.7, 0.6)}]
    rows = [{"settings": {"train_classifier.method": "puzzle", "train_classifier.methods.puzzle.alpha_max": "1",
                          "seed": "0"},
             "metrics": _metrics(0.65, 0.7, 0.72, 0.6)}]
    text = results_table.render_methods(rows, stage_rows, current)
    assert "| puzzle (methods.puzzle.alpha_max=1) | 1 | 0.990 | 0.650 |" in text
    assert "`puzzle" not in text  # the claims compare the published settings only


def test_a_method_run_at_earlier_pipeline_code_is_labelled_so_and_not_compared():
    rows = [{"settings": {"train_classifier.method": "puzzle", "seed": "0"}, "metrics": _metrics(0.7, 0.8, 0.9, 0.6)}]
    stage_rows = [{"settings": {"seed": "0"}, "metrics": _metrics(0.6, 0.7, 0.8, 0.6)}]
    text = results_table.render_methods(rows, stage_rows, lambda row: False)
    assert "| puzzle [earlier pipeline code] | 1 |" in text
    assert "`puzzle` raises" not in text and "`puzzle` does not raise" not in text


def test_ssnet_is_also_judged_with_its_own_readout(verdict_on_one_seed):
    readout = {"train_classifier.method": "ssnet", **results_table.SSNET_READOUT_SETTINGS}
    rows = [{"settings": {**readout, "seed": "0"}, "metrics": _metrics(0.75, 0.8, 0.85, 0.6)},
            {"settings": {"train_classifier.method": "ssnet", "extract_cams.method": "ssnet", "seed": "0"},
             "metrics": _metrics(0.75, 0.8, 0.75, 0.6)}]
    text = results_table.render_methods(rows, [{"settings": {"seed": "0"}, "metrics": _metrics(0.6, 0.7, 0.8, 0.6)}],
                                        current)
    assert (f"- `ssnet ({', '.join(f'{k}={v}' for k, v in results_table.SSNET_READOUT_SETTINGS.items())})` "
            "raises the CRF mIoU against `cam`: 0.850 vs 0.800 (mean of seeds 0; higher on 1 of 1)") in text
    assert "`ssnet (extract_cams.method=ssnet)`" not in text  # the readout without its thresholds: an ablation


def test_ssnet_readout_is_judged_within_an_ablation_too(verdict_on_one_seed):
    settings = {"train_classifier.method": "ssnet", **results_table.SSNET_READOUT_SETTINGS, "builtin.size": "64"}
    rows = [{"settings": {**settings, "seed": "0"}, "metrics": _metrics(0.75, 0.8, 0.85, 0.6)},
            {"settings": {"train_classifier.method": "cam", "builtin.size": "64", "seed": "0"},
             "metrics": _metrics(0.6, 0.7, 0.8, 0.6)}]
    text = results_table.render_methods(rows, [], current)
    assert (f"- with `builtin.size=64`: `{results_table.SSNET_READOUT}` raises the CRF mIoU against `cam`: "
            "0.850 vs 0.800 (mean of seeds 0; higher on 1 of 1)") in text


def test_a_check_is_set_against_the_stage_band_and_names_the_columns_outside_it():
    stage_rows = [{"settings": {"seed": str(s)}, "metrics": _metrics(0.5, 0.6, crf, 0.6)}
                  for s, crf in enumerate((0.70, 0.72, 0.74))]
    checks = [{"settings": {"check": "other_cpu", "seed": "0"}, "metrics": _metrics(0.5, 0.6, 0.80, 0.6),
               "seconds": 900},
              {"settings": {"check": "nproc2", "seed": "0"}, "metrics": _metrics(0.5, 0.6, 0.73, 0.6),
               "seconds": 700}]
    table = results_table.render_checks(checks, stage_rows, current)
    assert "| 0.680 – 0.760 |" in table  # the CRF band: 0.72 ± 2 * 0.02
    assert "| 0.800 | 0.600 | 0.800 | 0.750 | dense CRF | 900 s |" in table
    assert "| 0.730 | 0.600 | 0.800 | 0.750 | none | 700 s |" in table
    seed_1 = {"settings": {"check": "nproc2", "seed": "1"}, "metrics": _metrics(0.5, 0.6, 0.77, 0.6), "seconds": 700}
    table = results_table.render_checks([*checks, seed_1], stage_rows, current)
    assert "| two processes (gloo), mean ± sd | 2 seeds |" in table  # several seeds of a check: their mean
    assert "| 0.750 ± 0.028 | 0.600 ± 0.000 | 0.800 ± 0.000 | 0.750 ± 0.000 | none | – | – |" in table


def test_a_check_run_at_earlier_pipeline_code_is_listed_but_not_compared_or_averaged():
    stage_rows = [{"settings": {"seed": str(s)}, "metrics": _metrics(0.5, 0.6, crf, 0.6)}
                  for s, crf in enumerate((0.70, 0.72, 0.74))]
    checks = [{"settings": {"check": "nproc2", "seed": s}, "metrics": _metrics(0.5, 0.6, crf, 0.6), "seconds": 700,
               "commit": commit} for s, crf, commit in (("0", 0.73, "new"), ("1", 0.50, "old"))]
    table = results_table.render_checks(checks, stage_rows, lambda row: row["commit"] == "new")
    assert "| 0.730 | 0.600 | 0.800 | 0.750 | none | 700 s | new |" in table
    assert "| 0.500 | 0.600 | 0.800 | 0.750 | not compared: earlier pipeline code | 700 s | old |" in table
    assert "mean ± sd" not in table  # one current seed: no mean row


def test_a_check_row_names_the_machine_it_ran_on_and_is_averaged_with_that_machine_only():
    stage_rows = [{"settings": {"seed": str(s)}, "metrics": _metrics(0.5, 0.6, crf, 0.6)}
                  for s, crf in enumerate((0.70, 0.72, 0.74))]
    checks = [{"settings": {"check": "machine", "seed": s}, "metrics": _metrics(0.5, 0.6, crf, 0.6), "seconds": 900,
               "commit": "c", "machine": cpu} for s, crf, cpu in (("0", 0.71, "Xeon, 2 cores"),
                                                                  ("1", 0.73, "Xeon, 2 cores"), ("0", 0.72, "EPYC, 2 cores"))]
    table = results_table.render_checks(checks, stage_rows, lambda row: True)
    assert "| the default run on another machine (Xeon, 2 cores) | 0 | 0.990 | 0.500 | 0.600 | 0.710 |" in table
    assert "| the default run on another machine (Xeon, 2 cores), mean ± sd | 2 seeds |" in table
    assert "(EPYC, 2 cores), mean ± sd" not in table


def test_every_collected_row_records_the_machine_and_its_arithmetic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    monkeypatch.setattr(results_table, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results_table, "run_experiment", lambda settings, through: _metrics(0.5, 0.6, 0.7, 0.6))
    monkeypatch.setattr(results_table, "head_commit", lambda: "abc1234")
    results_table.collect("photos", [{"seed": "0"}])
    row, = results_table._rows("photos")
    assert row["machine"] == results_table.machine()
    assert row["machine"].endswith((" cores, native bf16", " cores, no native bf16"))


def test_a_row_is_current_while_nothing_its_stages_depend_on_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def commit(path: str, text: str) -> str:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        for args in (["add", "."], ["commit", "-qm", path], ["rev-parse", "--short", "HEAD"]):
            result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                                    check=True, capture_output=True, text=True)
        return result.stdout.strip()

    subprocess.run(["git", "init", "-q"], check=True)
    commit("pipeline/classify.py", "a = 1\n")
    commit("pipeline/segment.py", "b = 1\n")
    commit("dvc.yaml", yaml.safe_dump({"stages": {
        "train_classifier": {"cmd": "c", "deps": ["pipeline/classify.py", "${data.root}"],
                             "params": ["seed", "train_classifier"]},
        "evaluate": {"foreach": {"x": {}}, "do": {"cmd": "e", "deps": ["pipeline/segment.py"],
                                                  "params": ["train_segmentation"]}}}}, sort_keys=False))
    first = commit("params.yaml", "seed: 0\ntrain_classifier: {lr: 1}\ntrain_segmentation: {lr: 1}\n")
    through_classifier, through_deeplab = {"classifier": {}}, {"classifier": {}, "seg": {}}
    current = lambda reported: results_table.runs_current_code(first, reported)  # noqa: E731

    commit("README.md", "docs only\n")
    assert current(through_classifier) and current(through_deeplab)
    commit("pipeline/segment.py", "b = 2\n")  # code only the later stage imports
    assert current(through_classifier) and not current(through_deeplab)
    second = commit("params.yaml", "seed: 0\ntrain_classifier: {lr: 1}\ntrain_segmentation: {lr: 2}\n")
    assert results_table.runs_current_code(second, through_deeplab)
    assert current(through_classifier)
    commit("params.yaml", "seed: 1\ntrain_classifier: {lr: 1}\ntrain_segmentation: {lr: 2}\n")
    assert not current(through_classifier) and not results_table.runs_current_code(second, through_deeplab)
    third = commit("pipeline/unused.py", "c = 1\n")
    stages = yaml.safe_load((tmp_path / "dvc.yaml").read_text())
    commit("dvc.yaml", yaml.safe_dump({**stages, "plots": ["p.csv"]}, sort_keys=False) + "# a comment\n")
    assert results_table.runs_current_code(third, through_deeplab)  # nothing a stage runs changed
    stages["stages"]["evaluate"]["do"]["cmd"] = "e --flip"  # a later stage's definition
    commit("dvc.yaml", yaml.safe_dump(stages, sort_keys=False))
    assert results_table.runs_current_code(third, through_classifier)
    assert not results_table.runs_current_code(third, through_deeplab)
    stages["stages"]["train_classifier"]["outs"] = ["model.pt"]  # the first stage's: every row
    fourth = commit("dvc.yaml", yaml.safe_dump(stages, sort_keys=False))
    assert not results_table.runs_current_code(third, through_classifier)
    stages["vars"] = [{"size": 1}]  # variables any stage may use
    commit("dvc.yaml", yaml.safe_dump(stages, sort_keys=False))
    assert not results_table.runs_current_code(fourth, through_classifier)
    assert not results_table.runs_current_code(None)
    assert not results_table.runs_current_code("0000000")
    assert not results_table.runs_current_code(third, {})  # a row without figures


def test_a_change_to_another_training_method_leaves_a_row_current(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def commit(files: dict[str, str]) -> str:
        for path, text in files.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
        for args in (["add", "."], ["commit", "-qm", "c"], ["rev-parse", "--short", "HEAD"]):
            result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                                    check=True, capture_output=True, text=True)
        return result.stdout.strip()

    subprocess.run(["git", "init", "-q"], check=True)
    registry = ("from pipeline.methods.cam import CamMethod\nfrom pipeline.methods.gain import GainMethod\n"
                "from pipeline.methods.gain_ext import GainExtMethod\n"
                "METHODS: dict = {'cam': CamMethod, 'gain': GainMethod, 'gain_ext': GainExtMethod}\n")
    params = "train_classifier:\n  method: cam\n  methods:\n    gain: {w: 10}\n"
    first = commit({
        "pipeline/methods/__init__.py": registry, "pipeline/methods/base.py": "x = 1\n",
        "pipeline/methods/cam.py": "class CamMethod: ...\n", "pipeline/methods/gain.py": "class GainMethod: ...\n",
        "pipeline/methods/gain_ext.py": "from pipeline.methods.gain import GainMethod\nclass GainExtMethod: ...\n",
        "params.yaml": params,
        "dvc.yaml": yaml.safe_dump({"stages": {"train_classifier": {
            "cmd": "c", "deps": ["pipeline/methods"], "params": ["train_classifier"]}}})})
    reported = {"classifier": {}}
    current = lambda method: results_table.runs_current_code(first, reported, method)  # noqa: E731

    commit({"pipeline/methods/gain.py": "class GainMethod: pass\n", "params.yaml": params.replace("10", "5")})
    assert current(None) and current("cam")  # the default method, and named
    assert not current("gain") and not current("gain_ext")  # gain_ext imports gain
    second = commit({"pipeline/methods/cam.py": "class CamMethod: pass\n"})
    assert not current("cam")
    commit({"pipeline/methods/gain_ext.py": "from pipeline.methods.gain import GainMethod\nclass GainExtMethod: pass\n"})
    assert results_table.runs_current_code(second, reported, "gain")
    assert not results_table.runs_current_code(second, reported, "cam+gain_ext")
    commit({"pipeline/methods/base.py": "x = 2\n"})  # shared by every method
    assert not results_table.runs_current_code(second, reported, "gain") and not current("cam")


def test_without_dvc_the_check_runs_the_locked_stage_commands_in_order_with_its_settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("seed: 0\nruntime:\n  device: auto\n  num_workers: 0\n")
    # each stage writes the runtime section it read; the second fails unless the first ran before it
    stage = ("import json, pathlib, yaml; m = pathlib.Path('metrics'); m.mkdir(exist_ok=True); "
             "assert {before}; p = yaml.safe_load(open('params.yaml')); "
             "(m / '{name}.json').write_text(json.dumps({{'{name}': p['runtime']}}))")
    first = stage.format(name="first", before="True")
    second = stage.format(name="second", before="(m / 'first.json').exists()")
    lock = {"schema": "2.0", "stages": {"first": {"cmd": f'python -c "{first}"'},
                                        "second": {"cmd": f'python -c "{second}"'}}}
    (tmp_path / "dvc.lock").write_text(results_table.yaml.safe_dump(lock))
    metrics, _ = results_table.run_without_dvc({"runtime.device": "cuda", "runtime.num_workers": "4"})
    assert metrics == {"first": {"device": "cuda", "num_workers": 4}, "second": {"device": "cuda", "num_workers": 4}}


def test_gain_ext_is_followed_into_the_crf_labels_where_its_rows_ran_through_the_crf(verdict_on_one_seed):
    def row(method, cam_fp, crf, crf_fp):
        metrics = _metrics(0.6, 0.7, crf, 0.6, boat_fp=cam_fp)
        metrics["crf"]["context_fp"] = {"boat": crf_fp}
        return {"settings": {"train_classifier.method": method, "seed": "0"}, "metrics": metrics}

    unscored = {"settings": {"train_classifier.method": "gain", "seed": "0"}, "metrics": _metrics(0.5, 0.6, 0.7, 0.6)}
    text = results_table.render_methods([row("cam", 0.3, 0.80, 0.20), row("gain_ext", 0.1, 0.85, 0.05), unscored],
                                        [], current)
    # the context's share labelled by the CAM and by the CRF labels, "–" where a run's CRF was not scored for it
    assert "| 0.100 | 0.050 |" in text and "| 0.200 | – |" in text
    assert "by the CRF labels against `gain`" not in text  # no claim where one side scored no context
    assert "- `gain_ext` raises the CRF mIoU against `cam`: 0.850 vs 0.800 (mean of seeds 0; higher on 1 of 1)" in text
    assert ("- `gain_ext` lowers the share of the 'boat' context labelled 'boat' by the CRF labels against `cam`: "
            "0.050 vs 0.200 (mean of seeds 0; lower on 1 of 1)") in text


def test_a_methods_table_on_a_dataset_without_context_compares_with_its_own_default_runs(verdict_on_one_seed):
    photos = {"data.root": "data/photos"}
    rows = [{"settings": {**photos, "train_classifier.method": "puzzle", "seed": "0"},
             "metrics": _metrics(0.7, 0.8, 0.9, 0.6)}]
    stage_rows = [{"settings": {**photos, "seed": "0"}, "metrics": _metrics(0.6, 0.7, 0.8, 0.6)}]
    text = results_table.render_methods(rows, stage_rows, current, cooccurrence=None)
    assert "| cam | 1 |" in text and "| puzzle | 1 |" in text  # data.root names the table, not a row
    assert "context" not in text  # no column or claim about a context the dataset does not annotate
    assert "- `puzzle` raises the CRF mIoU against `cam`: 0.900 vs 0.800" in text


def test_each_photographs_dataset_gets_its_own_methods_table_with_the_context_it_annotates(tmp_path, monkeypatch, verdict_on_one_seed):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    plain, context = {"data.root": "data/photos"}, {"data.root": "data/photos_context"}
    no_context = _metrics(0.5, 0.6, 0.7, 0.5)
    del no_context["cam"]["context_fp"]
    rows = [{"settings": {**plain, "train_classifier.method": "gain_ext", "seed": "0"}, "metrics": no_context},
            {"settings": {**context, "train_classifier.method": "cam", "seed": "0"},
             "metrics": _metrics(0.4, 0, 0, 0, boat_fp=0.3)},
            {"settings": {**context, "train_classifier.method": "gain_ext", "seed": "0"},
             "metrics": _metrics(0.45, 0, 0, 0, boat_fp=0.1)}]
    (tmp_path / "results/photos_methods.json").write_text(json.dumps(rows))
    doc = tmp_path / "doc.md"
    doc.write_text("".join(f"<!-- results:{m}:start -->\n<!-- results:{m}:end -->\n"
                           for m in results_table.PHOTO_METHOD_TABLES.values()))
    monkeypatch.setattr(results_table, "DOCUMENTS", (doc,))
    monkeypatch.setattr(results_table, "COMPARISONS", {})
    monkeypatch.setattr(results_table, "row_is_current", lambda row: True)
    results_table.render()
    photos, with_context = doc.read_text().split("<!-- results:photos_context:start -->")
    assert "| gain_ext | 1 | 0.990 | 0.500 |" in photos and "context" not in photos.split("photos_methods:start")[1]
    assert "| cam | 1 | 0.990 | 0.400 |" in with_context and "| gain_ext | 1 | 0.990 | 0.450 |" in with_context
    assert ("- `gain_ext` lowers the share of the 'boat' context labelled 'boat' by the CAM against `cam`: "
            "0.100 vs 0.300") in with_context


def test_ablation_rows_are_compared_with_plain_cam_under_the_same_settings(verdict_on_one_seed):
    def row(method, seed, cam, fp, **extra):
        return {"settings": {"train_classifier.method": method, **extra, "seed": seed},
                "metrics": _metrics(cam, 0, 0, 0, boat_fp=fp)}

    biased = {"builtin.cooccurrence_rate": "1.0"}
    rows = [row("cam", "0", 0.60, 0.3, **biased), row("gain_ext", "0", 0.65, 0.1, **biased),
            row("gain_ext", "1", 0.65, 0.1, **biased), row("gain", "0", 0.50, 0.6, **biased),
            row("gain", "0", 0.70, 0.0, **{"builtin.cooccurrence_rate": "0.5"})]  # no cam row at 0.5: no sentence
    stage_rows = [{"settings": {"seed": "0"}, "metrics": _metrics(0.9, 0, 0, 0, boat_fp=0.9)}]
    text = results_table.render_methods(rows, stage_rows, current)
    assert ("- with `builtin.cooccurrence_rate=1.0`: `gain_ext` lowers the share of the 'boat' context labelled "
            "'boat' by the CAM against `cam`: 0.100 vs 0.300 (mean of seeds 0; lower on 1 of 1)") in text
    assert "- with `builtin.cooccurrence_rate=1.0`: `gain_ext` lowers the share" in text.split("against `gain`")[0]
    assert "- with `builtin.cooccurrence_rate=1.0`: `gain` does not raise the CAM-stage mIoU" in text
    assert "cooccurrence_rate=0.5`" not in text
    assert "- `gain` does not raise the CAM-stage mIoU against `cam`: 0.500" not in text  # the default cam is 0.9


def _comparison(per_seed: bool):
    crf = lambda metrics: metrics["crf"]["miou"]  # noqa: E731
    return results_table.Comparison(
        "question", (("plain", "checks", lambda row: row["settings"].get("check") == "machine"),
                     ("puzzle", "methods", results_table._methods_row("puzzle"))), (("CRF", crf),), per_seed)


def test_a_comparison_sets_rows_of_two_tables_side_by_side_on_their_common_seeds():
    tables = {"checks": [{"settings": {"check": "machine", "seed": s}, "metrics": _metrics(0, 0, crf, 0)}
                         for s, crf in (("0", 0.70), ("1", 0.80), ("2", 0.90))],
              "methods": [{"settings": {"train_classifier.method": method, "seed": s}, "metrics": _metrics(0, 0, crf, 0)}
                          for method, s, crf in (("puzzle", "0", 0.75), ("puzzle", "1", 0.85), ("gain", "2", 0.1))]}
    table = results_table.render_comparison(_comparison(per_seed=True), tables.get, lambda row: True)
    assert table == ("| question, seeds 0 / 1 | CRF |\n|---|---|\n"
                     "| plain | 0.700 / 0.800 |\n| puzzle | 0.750 / 0.850 |\n")
    means = results_table.render_comparison(_comparison(per_seed=False), tables.get,
                                            lambda row: "check" in row["settings"])
    assert "| question, seeds 0, 1 (mean ± sd) | CRF |" in means
    assert "| plain | 0.750 ± 0.071 |" in means
    assert "| puzzle [earlier pipeline code] | 0.800 ± 0.071 |" in means
    del tables["methods"][0]["metrics"]["crf"]  # puzzle's seed 0 stopped before the CRF
    assert "| puzzle | – / 0.850 |" in results_table.render_comparison(_comparison(per_seed=True), tables.get,
                                                                       lambda row: True)
    assert "| puzzle | – |" in results_table.render_comparison(_comparison(per_seed=False), tables.get,
                                                               lambda row: True)


def test_a_gain_holds_on_the_mean_and_on_most_seeds_only():
    rows = [{"settings": {"train_classifier.method": "puzzle", "seed": s}, "metrics": _metrics(cam, 0, 0, 0)}
            for s, cam in (("0", 0.9), ("1", 0.5), ("2", 0.5))]
    stage_rows = [{"settings": {"seed": s}, "metrics": _metrics(0.6, 0, 0, 0)} for s in "012"]
    text = results_table.render_methods(rows, stage_rows, current)
    assert ("- `puzzle` does not raise the CAM-stage mIoU against `cam`: 0.633 vs 0.600 "
            "(mean of seeds 0, 1, 2; higher on 1 of 3)") in text

