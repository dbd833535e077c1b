"""The flags and environment variables the manifests pass exist in the binary's
CLI (src/operator/args.rs, crates/iam-emulator/src/lib.rs), read from its clap definitions
without building it; and every flag of `ssc-operator run` is set by some chart value
or deliberately left to extraArgs (NOT_IN_CHART). Skipped when those sources are not
there."""

from __future__ import annotations

import re
import subprocess

import pytest

import helm
from manifests import DEPLOY, ROOT, container, kustomize

BINARY = ROOT / "target" / "debug" / "ssc-operator"


def clap_flags(path, struct: str) -> dict[str, str | None]:
    """Long flag -> its env var (None without one) of a `#[derive(clap::Args)] struct`."""
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not found")
    text = path.read_text()
    m = re.search(rf"pub struct {struct}\s*\{{(.*?)\n\}}", text, re.S)
    if not m:
        pytest.skip(f"struct {struct} not found in {path.relative_to(ROOT)}")
    flags: dict[str, str | None] = {}
    for attr, field in re.findall(r"#\[arg\((.*?)\)\]\s*(?:///[^\n]*\s*)*pub (\w+):", m.group(1), re.S):
        if not re.search(r"\blong\b", attr):
            continue
        explicit = re.search(r'long\s*=\s*"([^"]+)"', attr)
        env = re.search(r'env\s*=\s*"([^"]+)"', attr)
        flags["--" + (explicit.group(1) if explicit else field.replace("_", "-"))] = env.group(1) if env else None
    assert flags, f"no flags parsed from {struct}"
    return flags


def clap_args(path, struct: str) -> tuple[set[str], set[str]]:
    """(long flags, env vars) of a `#[derive(clap::Args)] struct`."""
    flags = clap_flags(path, struct)
    return set(flags), {e for e in flags.values() if e}


def flags_of(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


ALL_ON = {"emulator": {"enabled": True, "throttleRate": 0.1, "serverErrorRate": 0.1, "latencyMs": 5},
          "watchNamespaces": ["team-a", "team-b"], "iam": {"region": "eu-west-1"},
          "rolloutRestart": {"enabled": True}, "shardSelector": "ssc-operator.dev/shard=a",
          "revocation": "delete", "orphanGrace": "10m", "ambientIdentity": "ssc-operator.dev/ambient=true"}


def test_chart_flags_exist():
    run_flags, _ = clap_args(ROOT / "src" / "operator" / "args.rs", "RunArgs")
    emu_flags, _ = clap_args(ROOT / "crates" / "iam-emulator" / "src" / "lib.rs", "EmulatorArgs")
    r = helm.render(ALL_ON)
    op = container(r.one("Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager")
    em = container(r.one("Deployment", "-iam-emulator")["spec"]["template"]["spec"], "emulator")
    assert op["args"][0] == "run" and em["args"][0] == "emulator"
    assert flags_of(op["args"]) <= run_flags, flags_of(op["args"]) - run_flags
    assert flags_of(em["args"]) <= emu_flags, flags_of(em["args"]) - emu_flags


@pytest.mark.parametrize("overlay", ["emulator", "rollout-restart", "multi-account"])
def test_deploy_flags_and_env_exist(overlay):
    run_flags, run_env = clap_args(ROOT / "src" / "operator" / "args.rs", "RunArgs")
    emu_flags, emu_env = clap_args(ROOT / "crates" / "iam-emulator" / "src" / "lib.rs", "EmulatorArgs")
    objects = kustomize(DEPLOY / overlay)
    for name, cname, flags, envs in (("ssc-operator", "manager", run_flags, run_env),
                                     ("ssc-iam-emulator", "emulator", emu_flags, emu_env)):
        found = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name]
        if not found and name == "ssc-iam-emulator" and overlay != "emulator":
            continue
        [d] = found
        c = container(d["spec"]["template"]["spec"], cname)
        assert flags_of(c["args"]) <= flags
        ssc_env = {e["name"] for e in c.get("env", []) if e["name"].startswith("SSC_")}
        assert ssc_env <= envs, ssc_env - envs


# Flags of `ssc-operator run` that no chart value sets, and why (extraArgs passes any of them).
NOT_IN_CHART = {
    "--kubeconfig": "in the cluster the operator uses its ServiceAccount",
    "--embedded-emulator": "dev mode on a workstation; the chart's emulator.enabled runs the emulator as its own Deployment",
    "--emulator-user": "only with --embedded-emulator (the chart's emulator takes emulator.users)",
    "--shutdown-grace": "its default (20s) fits terminationGracePeriodSeconds (60)",
    "--leader-renew-deadline": "derived from leaderElection.leaseDuration",
    "--leader-retry-period": "derived from leaderElection.leaseDuration",
    "--test-clock-offset": "hidden, for the chaos tests only",
    "--namespace-iam-writes-per-minute": "hidden, no effect: accepted so that old installs still start (fair sharing replaced the cap)",
    "--namespace-iam-write-burst": "hidden, no effect: accepted so that old installs still start (fair sharing replaced the cap)",
}


def help_flags() -> set[str]:
    """The long flags `target/debug/ssc-operator run --help` prints (empty without the binary)."""
    if not BINARY.exists():
        return set()
    out = subprocess.run([str(BINARY), "run", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", out.stdout, re.M)) - {"--help"}


def test_every_run_flag_is_reachable_from_the_chart():
    """A flag the binary gains fails this test until the chart sets it from a value (values.yaml,
    values.schema.json, templates/deployment.yaml, the READMEs) or NOT_IN_CHART says why not."""
    flags = clap_flags(ROOT / "src" / "operator" / "args.rs", "RunArgs")
    # --help is the binary's own word (it may be older than src/: then it only adds nothing).
    listed = set(flags) | help_flags()
    op = container(helm.render(ALL_ON).one("Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager")
    env = {e["name"] for e in op.get("env", [])}
    reached = flags_of(op["args"]) | {f for f, e in flags.items() if e in env}  # e.g. --identity from POD_NAME
    missing = sorted(listed - reached - set(NOT_IN_CHART))
    assert not missing, f"flags of `ssc-operator run` no chart value sets (add a value or a NOT_IN_CHART reason): {missing}"
    stale = sorted(set(NOT_IN_CHART) & reached)
    assert not stale, f"NOT_IN_CHART lists flags the chart sets: {stale}"
    gone = sorted(set(NOT_IN_CHART) - set(flags))
    assert not gone, f"NOT_IN_CHART lists flags the binary no longer has: {gone}"
    for flag in ("--revocation", "--orphan-grace", "--ambient-identity", "--sts-endpoint-url"):
        assert flag in listed and flag in reached, flag
