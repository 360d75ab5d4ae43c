"""tools/bundle-check.py on the example bundle and on broken copies of it."""
import importlib.util
import os
import shutil

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(HERE, "..", "..", "examples", "bundle")
JOB = os.path.join("resources", "daily_revenue.job.yml")
spec = importlib.util.spec_from_file_location("bundle_check", os.path.join(HERE, "..", "bundle-check.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


@pytest.fixture
def bundle(tmp_path):
    d = tmp_path / "bundle"
    shutil.copytree(BUNDLE, d, ignore=shutil.ignore_patterns("__pycache__", "dist", "*.egg-info"))
    return d


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_example_is_clean(capsys):
    assert check.main(["--bundle", BUNDLE]) == 0
    assert "ok (3 targets" in capsys.readouterr().out


def test_misspelt_key_fails_with_its_path(bundle, capsys):
    edit(bundle / JOB, "entry_point:", "entry_pont:")
    assert check.main(["--bundle", str(bundle), "--target", "prod"]) == 1
    out = capsys.readouterr().out
    assert "daily_revenue.job.yml [target prod]: resources.jobs.daily_revenue.tasks[0]." \
           "python_wheel_task.entry_pont: unknown key for PythonWheelTask (did you mean entry_point?)" in out


def test_bad_enum_fails_with_its_path(bundle, capsys):
    edit(bundle / JOB, "metric: RUN_DURATION_SECONDS", "metric: RUN_SECONDS")
    assert check.main(["--bundle", str(bundle)]) == 1
    assert "resources.jobs.daily_revenue.health.rules[0].metric: 'RUN_SECONDS' is not one of" \
        in capsys.readouterr().out


def test_unpaused_dr_trigger_fails(bundle, capsys):
    edit(bundle / JOB, "timezone_id: UTC", "timezone_id: UTC\n        pause_status: UNPAUSED")
    assert check.main(["--bundle", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "[target dr]: resources.jobs.daily_revenue.schedule.pause_status: is UNPAUSED in " \
           "standby target 'dr'" in out
    assert "[target prod]" not in out


def test_unpaused_dr_trigger_block_fails(bundle, capsys):
    # a `trigger` (periodic, file arrival, table update), not a schedule, set UNPAUSED for every target
    edit(bundle / JOB, """      schedule:
        quartz_cron_expression: "0 30 2 * * ?"     # 02:30 every day
        timezone_id: UTC
""", """      trigger:
        periodic:
          interval: 6
          unit: HOURS
        pause_status: UNPAUSED
""")
    assert check.main(["--bundle", str(bundle)]) == 1
    out = capsys.readouterr().out
    assert "[target dr]: resources.jobs.daily_revenue.trigger.pause_status: is UNPAUSED in " \
           "standby target 'dr'" in out
    assert "[target prod]" not in out


def test_dr_without_pause_preset_fails(bundle, capsys):
    edit(bundle / "databricks.yml", "      trigger_pause_status: PAUSED\n      tags:\n        region_role: standby",
         "      tags:\n        region_role: standby")
    assert check.main(["--bundle", str(bundle), "--target", "dr"]) == 1
    assert "schedule.pause_status: is unset in standby target 'dr'" in capsys.readouterr().out


def test_job_only_in_prod_and_renamed_job_fail(bundle, capsys):
    edit(bundle / "databricks.yml", "  prod:\n    mode: production\n",
         "  prod:\n    mode: production\n    resources:\n      jobs:\n        extra:\n"
         "          name: extra\n          tasks:\n            - task_key: t\n"
         "              notebook_task: {notebook_path: /x}\n")
    assert check.main(["--bundle", str(bundle)]) == 1
    assert "resources.jobs.extra: defined only in target 'prod'" in capsys.readouterr().out


def test_semantic_rules(bundle, capsys):
    edit(bundle / JOB, "environment_key: default\n          python", "environment_key: dflt\n          python")
    assert check.main(["--bundle", str(bundle), "--target", "test"]) == 1
    assert "tasks[0].environment_key: 'dflt' is not defined in environments" in capsys.readouterr().out


def test_unknown_variable_reference_names_the_path(bundle, capsys):
    edit(bundle / JOB, "${var.catalog}", "${var.catalgo}")
    assert check.main(["--bundle", str(bundle), "--target", "prod"]) == 1
    assert "resources.jobs.daily_revenue.tasks[0].python_wheel_task.parameters[1]: unknown " \
           "reference ${var.catalgo}" in capsys.readouterr().err


def test_unix_cron_is_not_quartz(bundle, capsys):
    edit(bundle / JOB, '"0 30 2 * * ?"', '"30 2 * * *"')
    assert check.main(["--bundle", str(bundle), "--target", "prod"]) == 1
    assert "schedule.quartz_cron_expression: '30 2 * * *' is not a Quartz expression" in capsys.readouterr().out
