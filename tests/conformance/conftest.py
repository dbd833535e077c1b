"""Harness for the emulator conformance tests.

Starts the already-built `target/debug/ssc-operator emulator` (this file builds nothing: run.sh does)
on a free loopback port, waits for `/healthz`, and stops it with SIGTERM afterwards. Gives tests a
boto3 client factory, an AWS CLI runner and helpers for the emulator's admin endpoints.

The host's AWS configuration is never read: the config and credentials files point at /dev/null and
every AWS_* variable is replaced.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
BINARY = REPO / "target" / "debug" / "ssc-operator"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
DUMMY_KEY = "AKIAIOSFODNN7EXAMPLE"
DUMMY_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# Keep the host's AWS setup out of this process (boto3) and of the CLI's environment.
for _k in list(os.environ):
    if _k.startswith("AWS_"):
        del os.environ[_k]
os.environ.update(
    {
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)


def _aws_cli() -> list[str]:
    exe = Path(sys.executable).parent / "aws"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "awscli"]


AWS_CLI = _aws_cli()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """One `ssc-operator emulator` process."""

    def __init__(self, workdir: Path, args: list[str], name: str = "emu"):
        self.workdir = workdir
        self.args = list(args)
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = workdir / f"{name}.log"
        self.returncode: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Emulator":
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: run tests/conformance/run.sh (it builds it)")
        last_err = ""
        for _attempt in range(3):
            self.port = free_port()
            cmd = [
                str(BINARY),
                "emulator",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--account-id",
                ACCOUNT,
                *self.args,
            ]
            log = open(self.log_path, "ab")
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            # the emulator reads SSC_EMULATOR_* variables as flag defaults: keep the host's out
            env = {k: v for k, v in os.environ.items() if not k.startswith("SSC_EMULATOR_")}
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"emulator did not answer /healthz within {timeout}s:\n{self.log_tail()}")
            last_err = self.log_tail()
            if "in use" not in last_err.lower():
                break
        raise RuntimeError(f"emulator exited at start (rc={self.proc.returncode}):\n{last_err}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL if it does not exit. Returns the exit code."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def restart(self) -> "Emulator":
        self.stop()
        return self.start()

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- admin endpoints -----------------------------------------------------------------------
    def http(self, method: str, path: str, body: Any = None, headers: dict | None = None,
             raw: bytes | None = None) -> tuple[int, dict, bytes]:
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        status, _h, data = self.http(method, path, body)
        assert 200 <= status < 300, f"{method} {path} -> {status}: {data[:500]!r}"
        return json.loads(data) if data.strip() else None

    # Fault settings over HTTP (crates/iam-emulator/src/faults.rs):
    #   GET/PUT /_emulator/faults {"throttleRate":0.0,"serverErrorRate":0.0,"latencyMs":0,"actions":null}
    #   POST /_emulator/faults/inject {"action":"CreateUser"|null,"kind":"throttle"|"serverError"|"deliverLate",
    #                                  "status":503,"delayMs":N,"count":N}
    FAULT_FIELDS = ("throttleRate", "serverErrorRate", "latencyMs", "actions")

    def get_faults(self) -> dict:
        return self.admin("GET", "/_emulator/faults")

    def set_faults(self, **fields: Any) -> Any:
        cur = {k: v for k, v in self.get_faults().items() if k in self.FAULT_FIELDS}
        cur.update(fields)
        return self.admin("PUT", "/_emulator/faults", cur)

    def clear_faults(self) -> None:
        self.set_faults(throttleRate=0.0, serverErrorRate=0.0, latencyMs=0, actions=None)

    def inject(self, kind: str, count: int, action: str | None = None, status: int | None = None) -> Any:
        """kind: "throttle" or "serverError" (with status, default 503)."""
        body: dict[str, Any] = {"action": action, "kind": kind, "count": count}
        if status is not None:
            body["status"] = status
        return self.admin("POST", "/_emulator/faults/inject", body)

    def advance_clock(self, seconds: int) -> Any:
        return self.admin("POST", "/_emulator/clock", {"advanceSeconds": seconds})

    def check_password(self, service: str, username: str, password: str) -> dict:
        return self.admin("POST", "/_emulator/check",
                          {"serviceName": service, "username": username, "password": password})

    def check_secret(self, service: str, secret: str) -> dict:
        return self.admin("POST", "/_emulator/check", {"serviceName": service, "secret": secret})


def start_emulator(workdir: Path, *, users=("caller",), caller: str | None = None, state_file: Path | None = None,
                   access_keys=(), extra=(), name: str = "emu") -> Emulator:
    args: list[str] = []
    for u in users:
        args += ["--user", u]
    if caller:
        args += ["--caller-user", caller]
    if state_file is not None:
        args += ["--state-file", str(state_file)]
    for k in access_keys:
        args += ["--access-key", k]
    args += ["--log-format", "text", *extra]
    return Emulator(workdir, args, name=name).start()


@pytest.fixture(scope="module")
def emu(tmp_path_factory) -> Emulator:
    """A shared emulator per test module. Seed user `caller` is the caller for requests without
    UserName. Tests on it use unique user names (see `names`)."""
    e = start_emulator(tmp_path_factory.mktemp("emu"), users=("caller",), caller="caller")
    yield e
    e.stop()


@pytest.fixture
def emulator_factory(tmp_path):
    """Start extra, private emulators; all are stopped after the test."""
    started: list[Emulator] = []
    counter = itertools.count()

    def make(**kw) -> Emulator:
        kw.setdefault("name", f"emu{next(counter)}")
        e = start_emulator(tmp_path, **kw)
        started.append(e)
        return e

    yield make
    for e in started:
        e.stop()


@pytest.fixture
def fresh(emulator_factory) -> Emulator:
    """A private emulator for tests that need a known, empty world (pagination, AllUsers, clock)."""
    return emulator_factory(users=("caller",), caller="caller")


_seq = itertools.count(1)


@pytest.fixture
def names(request):
    """Unique user names for this test: names("alice") -> "alice-<test>-<n>" (valid IAM names, <= 64)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:30].strip("-")

    def make(prefix: str = "u") -> str:
        return f"{prefix}-{base}-{next(_seq)}"[:64]

    return make


# -- clients ---------------------------------------------------------------------------------


def iam_client(e: Emulator, *, retries: bool = False, key: str = DUMMY_KEY, secret: str = DUMMY_SECRET,
               region: str = REGION, validate: bool = True, max_attempts: int | None = None):
    """boto3 IAM client against the emulator. By default retries are off (one attempt), so
    errors are seen as the server sent them. retries=True gives botocore's default retry."""
    if max_attempts is not None:
        retry_cfg = {"total_max_attempts": max_attempts, "mode": "standard"}
    elif retries:
        retry_cfg = None
    else:
        retry_cfg = {"total_max_attempts": 1, "mode": "standard"}
    cfg_kw: dict[str, Any] = dict(connect_timeout=5, read_timeout=30, parameter_validation=validate)
    if retry_cfg is not None:
        cfg_kw["retries"] = retry_cfg
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    return session.client("iam", endpoint_url=e.url, config=Config(**cfg_kw))


@pytest.fixture
def iam(emu):
    return iam_client(emu)


@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        assert self.rc == 0, f"aws exited {self.rc}: {self.stderr}"
        return json.loads(self.stdout) if self.stdout.strip() else None


def aws(e: Emulator, *args: str, key: str = DUMMY_KEY, secret: str = DUMMY_SECRET, region: str = REGION,
        env: dict | None = None, timeout: float = 120) -> CliResult:
    """Run `aws iam <args>` against the emulator with dummy credentials and no host config."""
    cmd = [*AWS_CLI, "--endpoint-url", e.url, "--region", region, "--output", "json", "iam", *args]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full_env.update(
        {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )
    full_env.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    return CliResult(p.returncode, p.stdout, p.stderr)


def cli_error_line(code: str, operation: str, message: str) -> str:
    """The line AWS CLI v1 prints on stderr for a service error."""
    return f"An error occurred ({code}) when calling the {operation} operation: {message}"


def assert_cli_error(r: CliResult, code: str, operation: str, message: str | None = None) -> None:
    assert r.rc in (254, 255), f"expected a CLI service error, rc={r.rc}\nstdout={r.stdout}\nstderr={r.stderr}"
    if message is None:
        assert f"An error occurred ({code}) when calling the {operation} operation" in r.stderr, r.stderr
    else:
        assert cli_error_line(code, operation, message) in r.stderr, r.stderr


# -- error assertions ------------------------------------------------------------------------

VALIDATION_PREFIX = "1 validation error detected: "


def expect_error(client, fn, *, code: str, status: int, message: str | None = None, type_: str = "Sender",
                 exc: str | None = None) -> dict:
    """Call fn() (a boto3 call), expect a service error and check it field by field.

    exc: name of the modeled exception class on client.exceptions (e.g. "NoSuchEntityException").
    With exc=None the error must be unmodeled (botocore raises the plain ClientError).
    """
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        fn()
    resp = ei.value.response
    err = resp.get("Error", {})
    meta = resp.get("ResponseMetadata", {})
    assert err.get("Code") == code, f"code: expected {code!r}, got {err!r} (HTTP {meta.get('HTTPStatusCode')})"
    assert meta.get("HTTPStatusCode") == status, f"HTTP status: expected {status}, got {meta.get('HTTPStatusCode')} ({err!r})"
    if message is not None:
        assert err.get("Message") == message, f"message: expected {message!r}, got {err.get('Message')!r}"
    else:
        assert err.get("Message"), f"error has no message: {err!r}"
    if type_ is not None:
        assert err.get("Type") == type_, f"<Type>: expected {type_!r}, got {err.get('Type')!r}"
    if exc is not None:
        cls = getattr(client.exceptions, exc)
        assert isinstance(ei.value, cls), f"expected {exc}, got {type(ei.value).__name__}"
    else:
        assert type(ei.value) is ClientError, f"expected an unmodeled error, got {type(ei.value).__name__}"
    assert meta.get("RequestId"), "error response has no RequestId"
    return resp


# -- enforcement, STS and several accounts (test_enforce.py, test_sts.py, test_policy_docs.py) ---------------
# `--enforce` authorizes every signed request by IAM policy evaluation; a root key (`AKID:SECRET:root`)
# bootstraps an account, and everything else is made through the real clients (iam-api.md §15-§19).

ACCOUNT_B = "210987654321"
ROOT_KEY, ROOT_SECRET = "AKIAROOTA0000EXAMPLE", "rootASecret/EXAMPLE+0000000000000000000000"
ROOT_B_KEY, ROOT_B_SECRET = "AKIAROOTB0000EXAMPLE", "rootBSecret/EXAMPLE+0000000000000000000000"
ROOT_ACCESS_KEY = f"{ROOT_KEY}:{ROOT_SECRET}:root"
ROOT_B_ACCESS_KEY = f"{ROOT_B_KEY}:{ROOT_B_SECRET}:root:{ACCOUNT_B}"


def start_enforcing(workdir: Path, *, access_keys=(ROOT_ACCESS_KEY,), extra=("--enforce",), guardrails=(),
                    accounts=(), name: str = "enforce") -> Emulator:
    """An emulator with SigV4 on, authorizing by policy (`extra` holds `--enforce` by default), no seed users."""
    args: list[str] = [*extra]
    for a in accounts:
        args += ["--account", a]
    for g in guardrails:
        args += ["--guardrail", str(g)]
    return start_emulator(workdir, users=(), access_keys=access_keys, extra=args, name=name)


def _client_config(validate: bool = True) -> Config:
    return Config(connect_timeout=5, read_timeout=30, parameter_validation=validate,
                  retries={"total_max_attempts": 1, "mode": "standard"})


def aws_client(e: Emulator, service: str, *, key: str, secret: str, token: str | None = None,
               region: str = REGION, validate: bool = True):
    """A boto3 client of `service` ("iam" or "sts") against the emulator, one attempt per call."""
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                    aws_session_token=token, region_name=region)
    return session.client(service, endpoint_url=e.url, config=_client_config(validate))


def session_client(e: Emulator, service: str, creds: dict, **kw):
    """A client signed with AssumeRole's `Credentials`."""
    return aws_client(e, service, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                      token=creds["SessionToken"], **kw)


def aws_cli(e: Emulator, service: str, *args: str, key: str, secret: str, token: str | None = None,
            region: str = REGION, timeout: float = 120) -> CliResult:
    """Run `aws <service> <args>` against the emulator (like `aws`, for any service, with a session token)."""
    cmd = [*AWS_CLI, "--endpoint-url", e.url, "--region", region, "--output", "json", service, *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    if token:
        env["AWS_SESSION_TOKEN"] = token
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return CliResult(p.returncode, p.stdout, p.stderr)


# The context phrase IAM appends to AccessDenied (iam-api.md §18; AWS "Troubleshoot access denied error
# messages": "When the policy implicitly denies access, then AWS includes the phrase because no type policy
# allows the action action").
DENY_REASONS = {
    "identity": "because no identity-based policy allows the {action} action",
    "explicit-identity": "with an explicit deny in an identity-based policy",
    "boundary": "because no permissions boundary allows the {action} action",
    "explicit-boundary": "with an explicit deny in a permissions boundary",
    "scp": "because no service control policy allows the {action} action",
    "explicit-scp": "with an explicit deny in a service control policy",
}


def access_denied_message(who: str, action: str, resource: str, reason: str | None = None) -> str:
    msg = f"User: {who} is not authorized to perform: {action} on resource: {resource}"
    if reason is not None:
        msg += " " + DENY_REASONS[reason].format(action=action)
    return msg


def expect_access_denied(fn, *, who: str | None = None, action: str | None = None, resource: str | None = None,
                         reason: str | None = None) -> str:
    """fn() must fail with 403 AccessDenied (Type Sender). With who/action/resource the message must be IAM's
    `User: WHO is not authorized to perform: ACTION on resource: RESOURCE[ context]`; with reason too, exactly."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as ei:
        fn()
    resp = ei.value.response
    err, status = resp.get("Error", {}), resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert (err.get("Code"), status) == ("AccessDenied", 403), f"expected 403 AccessDenied, got {status} {err!r}"
    assert err.get("Type") == "Sender", err
    msg = err.get("Message", "")
    if who is not None and action is not None and resource is not None:
        head = access_denied_message(who, action, resource)
        if reason is None:
            assert msg.startswith(head), f"message: expected to start with {head!r}, got {msg!r}"
        else:
            assert msg == access_denied_message(who, action, resource, reason), f"message: got {msg!r}"
    return msg


@dataclass
class Actor:
    """An IAM user made through the root client, with its own access key and clients."""
    name: str
    arn: str
    key: str
    secret: str
    iam: Any
    sts: Any


def make_actor(e: Emulator, root_iam, name: str, *, policies: dict | None = None, managed=(), boundary=None,
               tags: dict | None = None, path: str = "/", region: str = REGION) -> Actor:
    """CreateUser NAME (path, tags), PutUserPolicy for each of `policies` {name: document}, AttachUserPolicy for
    each ARN in `managed`, PutUserPermissionsBoundary `boundary`, CreateAccessKey; clients signed with that key."""
    kw: dict[str, Any] = {"UserName": name, "Path": path}
    if tags:
        kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    user = root_iam.create_user(**kw)["User"]
    for pname, doc in (policies or {}).items():
        root_iam.put_user_policy(UserName=name, PolicyName=pname,
                                 PolicyDocument=doc if isinstance(doc, str) else json.dumps(doc))
    for arn in managed:
        root_iam.attach_user_policy(UserName=name, PolicyArn=arn)
    if boundary:
        root_iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    ak = root_iam.create_access_key(UserName=name)["AccessKey"]
    return Actor(name, user["Arn"], ak["AccessKeyId"], ak["SecretAccessKey"],
                 aws_client(e, "iam", key=ak["AccessKeyId"], secret=ak["SecretAccessKey"], region=region),
                 aws_client(e, "sts", key=ak["AccessKeyId"], secret=ak["SecretAccessKey"], region=region))


def statement(effect: str, actions, resource="*", condition=None, **extra) -> dict:
    """One policy statement; `condition` only when given."""
    st = {"Effect": effect, "Action": actions, "Resource": resource, **extra}
    if condition:
        st["Condition"] = condition
    return st


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
