"""docs/argocd-health.lua, the Argo CD health check, run under Lua 5.1 (lupa)
the way Argo CD runs it: the object as global `obj`, the script returns {status, message}."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from lupa import lua51

from manifests import ROOT

SCRIPT = (ROOT / "docs" / "argocd-health.lua").read_text()
TERMINAL = ["UserNotFound", "ServiceNotSupported", "NotPermitted", "SecretConflict", "InvalidSpec", "Expired",
            "LimitExceeded", "AccessDenied", "IamRejected", "AdoptionAmbiguous"]
TRANSIENT = ["Throttled", "IamUnavailable", "Rotating", "Deleting", "Creating", "Reconciling"]
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def health(obj: dict) -> dict:
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT)
    out = dict(result.items())
    assert set(out) == {"status", "message"}, out
    assert out["status"] in ARGO_STATUSES
    assert out["message"], "a message is always set"
    return out


def credential(generation=3, observed=3, ready=None, cond_generation=None, **meta) -> dict:
    obj = {
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "sofia-git", "namespace": "team-a", "generation": generation,
                     "finalizers": ["iam.ssc-operator.dev/cleanup"], **meta},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"},
    }
    if ready is not None:
        status, reason = ready
        cond = {"type": "Ready", "status": status, "reason": reason, "message": f"{reason} message",
                "lastTransitionTime": "2026-11-22T14:00:00Z"}
        cond["observedGeneration"] = observed if cond_generation is None else cond_generation
        obj["status"] = {"observedGeneration": observed, "conditions": [cond], "credentialId": "ACCAEXAMPLE"}
    return obj


def test_no_status_is_progressing():
    assert health(credential())["status"] == "Progressing"


def test_empty_status_is_progressing():
    obj = credential()
    obj["status"] = {}
    assert health(obj)["status"] == "Progressing"


def test_ready_current_generation_is_healthy():
    h = health(credential(ready=("True", "Available")))
    assert h == {"status": "Healthy", "message": "Available: Available message"}


def test_ready_without_condition_generation_is_healthy():
    obj = credential(ready=("True", "Available"))
    del obj["status"]["conditions"][0]["observedGeneration"]
    assert health(obj)["status"] == "Healthy"


def test_ready_stale_status_generation_is_progressing():
    h = health(credential(generation=4, observed=3, ready=("True", "Available")))
    assert h["status"] == "Progressing" and "generation 4" in h["message"]


def test_ready_stale_condition_generation_is_progressing():
    assert health(credential(generation=4, observed=4, cond_generation=3,
                             ready=("True", "Available")))["status"] == "Progressing"


def test_missing_observed_generation_is_progressing():
    obj = credential(ready=("True", "Available"))
    del obj["status"]["observedGeneration"]
    assert health(obj)["status"] == "Progressing"


@pytest.mark.parametrize("reason", TERMINAL)
def test_terminal_reason_is_degraded(reason):
    h = health(credential(ready=("False", reason)))
    assert h == {"status": "Degraded", "message": f"{reason}: {reason} message"}


@pytest.mark.parametrize("reason", TERMINAL)
def test_terminal_reason_of_an_old_generation_is_progressing(reason):
    assert health(credential(generation=5, observed=4, ready=("False", reason)))["status"] == "Progressing"


@pytest.mark.parametrize("reason", TRANSIENT)
def test_transient_reason_is_progressing(reason):
    h = health(credential(ready=("False", reason)))
    assert h["status"] == "Progressing" and h["message"].startswith(reason)


def test_unknown_status_is_progressing():
    assert health(credential(ready=("Unknown", "Throttled")))["status"] == "Progressing"


@pytest.mark.parametrize("ready", [("True", "Available"), ("False", "Deleting"), ("False", "NotPermitted"), None])
def test_deleting_is_progressing(ready):
    h = health(credential(ready=ready, deletionTimestamp="2026-11-22T15:00:00Z"))
    assert h["status"] == "Progressing" and h["message"].startswith("Deleting")


def test_other_conditions_do_not_count():
    obj = credential(ready=("True", "Available"))
    obj["status"]["conditions"].insert(0, {"type": "Rotating", "status": "True", "reason": "Rotating",
                                           "lastTransitionTime": "2026-11-22T14:00:00Z"})
    assert health(obj)["status"] == "Healthy"
    obj["status"]["conditions"] = obj["status"]["conditions"][:1]
    assert health(obj)["status"] == "Progressing"


def test_message_without_text_is_the_reason():
    obj = credential(ready=("False", "LimitExceeded"))
    obj["status"]["conditions"][0]["message"] = ""
    assert health(obj) == {"status": "Degraded", "message": "LimitExceeded"}


def test_does_not_mutate_or_need_more_than_the_object():
    obj = credential(ready=("True", "Available"))
    before = copy.deepcopy(obj)
    health(obj)
    assert obj == before


def test_docs_embed_the_script_verbatim():
    """docs/argocd.md's argocd-cm snippet carries exactly docs/argocd-health.lua."""
    doc = (ROOT / "docs" / "argocd.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    cms = [yaml.safe_load(b) for b in blocks if "kind: ConfigMap" in b]
    [cm] = [c for c in cms if c["metadata"]["name"] == "argocd-cm"]
    key = "resource.customizations.health.iam.ssc-operator.dev_ServiceSpecificCredential"
    assert cm["data"][key] == SCRIPT


def test_every_reason_of_the_operator_is_classified():
    """A reason added to the operator must be sorted into terminal (Degraded) or transient here."""
    source = (ROOT / "src" / "reconcile" / "conditions.rs").read_text()
    # The variants of `pub enum Reason`: their names are the reasons (strum derives the strings).
    body = re.search(r"pub enum Reason \{(.*?)\n\}", source, re.S)
    assert body, "no `pub enum Reason` in src/reconcile/conditions.rs"
    reasons = set(re.findall(r"^    (\w+),$", body.group(1), re.M))
    assert "Available" in reasons and "AdoptionAmbiguous" in reasons, reasons
    unclassified = reasons - set(TERMINAL) - set(TRANSIENT) - {"Available"}
    assert not unclassified, f"classify {unclassified} in docs/argocd-health.lua and this test"
    for reason in reasons - {"Available"}:
        expected = "Degraded" if reason in TERMINAL else "Progressing"
        assert health(credential(ready=("False", reason)))["status"] == expected, reason


# ------------------------------------------------------------------ Flux healthCheckExprs

FLUX_FOR_ARGO = {"Healthy": "Current", "Degraded": "Failed", "Progressing": "InProgress"}


def flux_exprs() -> dict:
    doc = (ROOT / "docs" / "argocd.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    [ks] = [yaml.safe_load(b) for b in blocks if "kind: Kustomization" in b and "healthCheckExprs" in b]
    [check] = ks["spec"]["healthCheckExprs"]
    assert (check["apiVersion"], check["kind"]) == ("iam.ssc-operator.dev/v1alpha1", "ServiceSpecificCredential")
    return check


def flux_status(obj: dict) -> str:
    """kustomize-controller's CEL status reader: inProgress, then failed, then current, else InProgress."""
    import celpy  # noqa: PLC0415

    env = celpy.Environment()
    activation = {k: celpy.json_to_cel(v) for k, v in obj.items()}
    check = flux_exprs()

    def true(name):
        if name not in check:
            return False
        result = env.program(env.compile(check[name])).evaluate(activation)
        assert not isinstance(result, celpy.CELEvalError), f"{name}: {result}"
        return bool(result)

    if true("inProgress"):
        return "InProgress"
    if true("failed"):
        return "Failed"
    if true("current"):
        return "Current"
    return "InProgress"


FLUX_CASES = [
    credential(),
    credential(ready=("True", "Available")),
    credential(generation=4, observed=3, ready=("True", "Available")),
    credential(generation=4, observed=4, cond_generation=3, ready=("True", "Available")),
    credential(generation=5, observed=4, ready=("False", "UserNotFound")),
    credential(ready=("Unknown", "Throttled")),
    credential(ready=("True", "Available"), deletionTimestamp="2026-11-22T15:00:00Z"),
    *[credential(ready=("False", r)) for r in TERMINAL + TRANSIENT],
]


@pytest.mark.parametrize("obj", FLUX_CASES, ids=lambda o: str(o.get("status", {}).get("conditions", "none"))[:60])
def test_flux_health_check_exprs_agree_with_argo(obj):
    assert flux_status(obj) == FLUX_FOR_ARGO[health(obj)["status"]]
