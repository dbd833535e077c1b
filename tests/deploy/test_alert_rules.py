"""The chart's alerts tested as Prometheus users test theirs (the kube-prometheus convention): the
rendered PrometheusRule's groups pass `promtool check rules`, and the unit tests in
tests/deploy/promtool/*.yaml pass `promtool test rules`: for each alert, input series, the times at
which it must not fire yet (just before its `for:`) and must fire, with the labels and annotations a
person reads exactly as Prometheus renders them. Then the unit tests are shown to fail when a rule
changes (its threshold, its `for:`, its selector, its severity or text).

promtool comes from tests/deploy/run.sh ($PROMTOOL: a 2.x on PATH, else Debian's, extracted into
.venv/promtool). Without it these tests are skipped, except under CI, where they fail.

The unit-test files name their rules `rule_files: [ssc-operator-rules.yaml]`, a path relative to the
test file: each run writes the rendered groups to that name in a temporary directory beside copies of
the unit-test files."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import helm

UNIT_TEST_DIR = Path(__file__).resolve().parent / "promtool"
UNIT_TEST_FILES = sorted(UNIT_TEST_DIR.glob("*.yaml"))
RULES_FILE = "ssc-operator-rules.yaml"


def _unit_tests() -> dict[Path, dict]:
    return {f: yaml.safe_load(f.read_text()) for f in UNIT_TEST_FILES}


def _tested_alerts() -> list[str]:
    return sorted({t["alertname"] for doc in _unit_tests().values() for g in doc["tests"]
                   for t in g.get("alert_rule_test", [])})


TESTED_ALERTS = _tested_alerts()


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def promtool() -> str:
    # run.sh exports PROMTOOL (empty when it found no 2.x); without run.sh, the one on PATH.
    path = os.environ["PROMTOOL"] if "PROMTOOL" in os.environ else shutil.which("promtool")
    if not path or not os.access(path, os.X_OK):
        message = "promtool is missing: run tests/deploy/run.sh (it fetches it) or put promtool on PATH"
        if _ci():
            pytest.fail(message + " (CI is set: not skipping)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def groups() -> list[dict]:
    """spec.groups of the PrometheusRule the chart renders with the defaults (release ssc-operator in
    ssc-system, as test_monitoring.py renders it)."""
    r = helm.render({"metrics": {"prometheusRule": {"enabled": True}}})
    [rule] = r.kind("PrometheusRule")
    return rule["spec"]["groups"]


def rules_of(groups: list[dict]) -> dict[str, dict]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def write_rules(groups: list[dict], path: Path) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000))
    return path


def readable(output: str) -> str:
    """promtool's report without its runs of blank lines."""
    return "\n".join(line for line in output.splitlines() if line.strip())


def run_unit_tests(promtool: str, groups: list[dict], directory: Path,
                   files: list[Path] = UNIT_TEST_FILES) -> subprocess.CompletedProcess:
    directory.mkdir(parents=True, exist_ok=True)
    write_rules(groups, directory / RULES_FILE)
    for f in files:
        shutil.copy(f, directory / f.name)
    return subprocess.run([promtool, "test", "rules", *(f.name for f in files)], cwd=directory,
                          capture_output=True, text=True, timeout=120)


def failed_alerts(output: str) -> set[str]:
    """The alerts whose expectations promtool reports as not met ("alertname: X, time: T")."""
    return set(re.findall(r"alertname: (\w+), time:", output))


_DURATION = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def seconds(duration: str) -> float:
    """A Prometheus duration ("1h", "15m", "1h30m", "0m") in seconds."""
    assert re.fullmatch(f"(?:{_DURATION.pattern})+", duration), duration
    return sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(duration))


# ---------------------------------------------------------------- promtool check rules


def test_promtool_check_rules(promtool, groups, tmp_path):
    path = write_rules(groups, tmp_path / RULES_FILE)
    p = subprocess.run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(path)],
                       capture_output=True, text=True, timeout=60)
    out = readable(p.stdout + p.stderr)
    assert p.returncode == 0, f"promtool check rules failed:\n{out}"
    assert f"SUCCESS: {len(rules_of(groups))} rules found" in out, out


def test_promtool_check_rules_rejects_a_broken_rule(promtool, groups, tmp_path):
    broken = copy.deepcopy(groups)
    broken[0]["rules"][0]["expr"] += " +"
    p = subprocess.run([promtool, "check", "rules", str(write_rules(broken, tmp_path / RULES_FILE))],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, readable(p.stdout + p.stderr)


# ---------------------------------------------------------------- promtool test rules


@pytest.mark.parametrize("unit_test", UNIT_TEST_FILES, ids=lambda f: f.stem)
def test_promtool_unit_tests_pass(promtool, groups, tmp_path, unit_test):
    p = run_unit_tests(promtool, groups, tmp_path, [unit_test])
    assert p.returncode == 0, f"promtool test rules {unit_test.name} failed:\n{readable(p.stdout + p.stderr)}"


def test_unit_tests_cover_every_alert(groups):
    """Each alert of the chart has unit tests, with times at which it must not fire and times at which
    it must, and every expected alert states the labels and the annotations a person reads."""
    alerts = rules_of(groups)
    assert UNIT_TEST_FILES, f"no unit tests in {UNIT_TEST_DIR}"
    assert set(TESTED_ALERTS) == set(alerts), "every alert, and only those of the chart, is unit-tested"
    fires: set[str] = set()
    silent: set[str] = set()
    for f, doc in _unit_tests().items():
        assert doc["rule_files"] == [RULES_FILE], f.name
        for group in doc["tests"]:
            for t in group["alert_rule_test"]:
                (fires if t.get("exp_alerts") else silent).add(t["alertname"])
                for exp in t.get("exp_alerts") or []:
                    assert exp["exp_labels"]["severity"] == alerts[t["alertname"]]["labels"]["severity"], (f.name, t)
                    assert set(exp["exp_annotations"]) == set(alerts[t["alertname"]]["annotations"]), (f.name, t)
    assert fires == silent == set(alerts), {"fires": fires, "silent": silent}


# ---------------------------------------------------------------- the unit tests fail when a rule changes


def mutate(groups: list[dict], alert: str, key: str, old: str, new: str) -> list[dict]:
    """A copy of groups with `old` replaced by `new` in the alert's `key` (expr, for, ...)."""
    changed = copy.deepcopy(groups)
    rule = rules_of(changed)[alert]
    assert old in rule[key], f"{alert}.{key} is {rule[key]!r}: the mutation's {old!r} is gone"
    rule[key] = rule[key].replace(old, new)
    return changed


def files_testing(alerts: set[str]) -> list[Path]:
    return [f for f, doc in _unit_tests().items()
            if alerts & {t["alertname"] for g in doc["tests"] for t in g.get("alert_rule_test", [])}]


def assert_unit_tests_fail(promtool, changed: list[dict], directory: Path, alerts: set[str], what: str) -> str:
    """promtool test rules, on the unit tests of `alerts` (quicker than all), fails for each of them."""
    p = run_unit_tests(promtool, changed, directory, files_testing(alerts))
    out = readable(p.stdout + p.stderr)
    assert p.returncode != 0, f"the unit tests still pass with {what}:\n{out}"
    assert alerts <= failed_alerts(out), f"with {what}, expected failures of {alerts}:\n{out}"
    print(f"--- promtool test rules with {what}:\n{out}")
    return out


EXPRESSION_CHANGES = {
    # The case: with a 40-day threshold the key expiring in 30 days would page.
    "expiry threshold 40 days": ("SSCCredentialExpiringSoon", "14 * 86400", "40 * 86400", {"SSCCredentialExpiringSoon"}),
    "expiry threshold 7 days": ("SSCCredentialExpiringSoon", "14 * 86400", "7 * 86400", {"SSCCredentialExpiringSoon"}),
    "expiry without > 0": ("SSCCredentialExpiringSoon", " > 0)", ")", {"SSCCredentialExpiringSoon"}),
    "throttled on any code": ("SSCIAMThrottled", 'code="Throttled"', 'code=~".+"', {"SSCIAMThrottled"}),
    # Replicas that all report 0 (none holds the Lease) are not absent.
    "absent(leader) only": ("SSCNoLeader", " == 1)", ")", {"SSCNoLeader"}),
    # Empty when no replica reports at all: the operator gone would not page.
    "max(leader) < 1": ("SSCNoLeader", "absent(ssc_operator_leader", "max(ssc_operator_leader", {"SSCNoLeader"}),
    "unclaimed over 30m": ("SSCUnclaimedCredentials", "[1h]", "[30m]", {"SSCUnclaimedCredentials"}),
}


@pytest.mark.parametrize("change", sorted(EXPRESSION_CHANGES))
def test_unit_tests_fail_when_an_expression_changes(promtool, groups, tmp_path, change):
    alert, old, new, failing = EXPRESSION_CHANGES[change]
    changed = mutate(groups, alert, "expr", old, new)
    if change == "max(leader) < 1":
        changed = mutate(changed, alert, "expr", " == 1)", ") < 1")
    assert_unit_tests_fail(promtool, changed, tmp_path, failing, f"{alert} expr {rules_of(changed)[alert]['expr']!r}")


def test_unit_tests_fail_when_the_job_changes(promtool, groups, tmp_path):
    """Every alert's tests include another release's series (another job) that must not count."""
    changed = copy.deepcopy(groups)
    for rule in rules_of(changed).values():
        assert 'job="ssc-operator-metrics"' in rule["expr"], rule["expr"]
        rule["expr"] = rule["expr"].replace('job="ssc-operator-metrics"', 'job="other-ssc-operator-metrics"')
    assert_unit_tests_fail(promtool, changed, tmp_path, set(TESTED_ALERTS), "job other-ssc-operator-metrics")


@pytest.mark.parametrize("alert", TESTED_ALERTS)
def test_unit_tests_pin_the_for_duration(promtool, groups, tmp_path, alert):
    """A minute more and the alert is late at the time it must fire; a minute less and it fires at the
    time it must not yet."""
    duration = rules_of(groups)[alert]["for"]
    for delta in (60, -60):
        if seconds(duration) + delta < 0:
            continue
        changed = copy.deepcopy(groups)
        rules_of(changed)[alert]["for"] = f"{int(seconds(duration) + delta)}s"
        assert_unit_tests_fail(promtool, changed, tmp_path / str(delta), {alert},
                               f"{alert} for: {duration} -> {rules_of(changed)[alert]['for']}")


@pytest.mark.parametrize("alert", TESTED_ALERTS)
def test_unit_tests_pin_severity_and_text(promtool, groups, tmp_path, alert):
    rule = rules_of(groups)[alert]
    other = {"warning": "critical", "critical": "warning"}[rule["labels"]["severity"]]
    changed = copy.deepcopy(groups)
    rules_of(changed)[alert]["labels"]["severity"] = other
    assert_unit_tests_fail(promtool, changed, tmp_path / "severity", {alert}, f"{alert} severity {other}")
    for key in sorted(rule["annotations"]):
        changed = copy.deepcopy(groups)
        rules_of(changed)[alert]["annotations"][key] += " (changed)"
        assert_unit_tests_fail(promtool, changed, tmp_path / key, {alert}, f"{alert} {key} changed")
