"""The flags and environment variables the manifests pass exist in the binary's
CLI (src/operator.rs, crates/iam-emulator/src/lib.rs), read from its clap definitions
without building it. Skipped when those sources are not there."""

from __future__ import annotations

import re

import pytest

import helm
from manifests import DEPLOY, ROOT, container, kustomize


def clap_args(path, struct: str) -> tuple[set[str], set[str]]:
    """(long flags, env vars) of a `#[derive(clap::Args)] struct`."""
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not found")
    text = path.read_text()
    m = re.search(rf"pub struct {struct}\s*\{{(.*?)\n\}}", text, re.S)
    if not m:
        pytest.skip(f"struct {struct} not found in {path.relative_to(ROOT)}")
    flags, envs = set(), set()
    for attr, field in re.findall(r"#\[arg\((.*?)\)\]\s*(?:///[^\n]*\s*)*pub (\w+):", m.group(1), re.S):
        if not re.search(r"\blong\b", attr):
            continue
        explicit = re.search(r'long\s*=\s*"([^"]+)"', attr)
        flags.add("--" + (explicit.group(1) if explicit else field.replace("_", "-")))
        env = re.search(r'env\s*=\s*"([^"]+)"', attr)
        if env:
            envs.add(env.group(1))
    assert flags, f"no flags parsed from {struct}"
    return flags, envs


def flags_of(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


ALL_ON = {"emulator": {"enabled": True, "throttleRate": 0.1, "serverErrorRate": 0.1, "latencyMs": 5},
          "watchNamespaces": ["team-a", "team-b"], "iam": {"region": "eu-west-1"},
          "rolloutRestart": {"enabled": True}}


def test_chart_flags_exist():
    run_flags, _ = clap_args(ROOT / "src" / "operator.rs", "RunArgs")
    emu_flags, _ = clap_args(ROOT / "crates" / "iam-emulator" / "src" / "lib.rs", "EmulatorArgs")
    r = helm.render(ALL_ON)
    op = container(r.one("Deployment", "ssc-operator")["spec"]["template"]["spec"], "manager")
    em = container(r.one("Deployment", "-iam-emulator")["spec"]["template"]["spec"], "emulator")
    assert op["args"][0] == "run" and em["args"][0] == "emulator"
    assert flags_of(op["args"]) <= run_flags, flags_of(op["args"]) - run_flags
    assert flags_of(em["args"]) <= emu_flags, flags_of(em["args"]) - emu_flags


@pytest.mark.parametrize("overlay", ["emulator", "rollout-restart"])
def test_deploy_flags_and_env_exist(overlay):
    run_flags, run_env = clap_args(ROOT / "src" / "operator.rs", "RunArgs")
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
