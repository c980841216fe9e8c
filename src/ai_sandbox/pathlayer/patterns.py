"""The ready-made deny patterns, in one place: secrets refused by default, and files that host
tools later execute (for policies that allow writes).

Patterns are gitignore-style and matched case-insensitively (see :mod:`ai_sandbox.pathlayer.names`):
a pattern without ``/`` matches any path component (``.netrc``, ``*.p12``); ``name/`` refuses a
directory called ``name`` at any depth and everything below it; ``**/a/b`` matches ``a/b`` at any
depth.

``HOST_EXECUTED_PATTERNS`` is meant for ``SandboxPolicy(allow_writes=True,
write_deny_patterns=HOST_EXECUTED_PATTERNS)`` (the files stay readable), or for
``deny_patterns=DEFAULT_DENY_PATTERNS + HOST_EXECUTED_PATTERNS`` to hide them altogether.

Besides the patterns, the path layer refuses the ``config`` and ``hooks`` of a bare git
repository whatever its name (a directory holding ``HEAD``, ``objects/`` and ``refs/``): a name
pattern cannot tell ``backup/config`` from a repository's.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_DENY_PATTERNS", "HOST_EXECUTED_PATTERNS"]

#: Paths refused even inside the root: version-control data, environment files, keys and the
#: well-known credential files of common tools. Public keys (``id_*.pub``) stay readable.
DEFAULT_DENY_PATTERNS: Final[tuple[str, ...]] = (
    # version control and environment files
    ".git/",
    "*.git/",  # bare repositories by convention (repo.git/config holds remotes and credentials)
    ".env*",  # also .envrc (direnv runs it)
    # private keys and key stores
    "*.pem",
    "*.key",
    ".ssh/",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
    "*.ppk",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "*.kdbx",
    ".gnupg/",
    # credentials of version control, package managers and databases
    ".git-credentials",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".my.cnf",
    ".htpasswd",
    "**/.cargo/credentials*",
    "**/.gem/credentials",
    "**/.composer/auth.json",
    "**/.config/gh/hosts.yml",
    # cloud and infrastructure credentials
    ".aws/",
    ".azure/",
    "**/.config/gcloud/",
    "credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "serviceaccount*.json",
    ".boto",
    ".s3cfg",
    "**/.docker/config.json",
    ".dockercfg",
    "**/.kube/config",
    "kubeconfig",
    "*.kubeconfig",
    ".vault-token",
    "*.tfstate",
    "*.tfstate.*",
    ".terraformrc",
    "terraform.rc",
    "credentials.tfrc.json",
    # more stores of tokens and passwords (git's XDG store, Kerberos, JVM build tools, hubs)
    "**/.config/git/credentials",
    "*.keytab",
    "krb5cc_*",
    "*.p8",
    "**/.m2/settings.xml",
    "**/.m2/settings-security.xml",
    "**/.gradle/gradle.properties",
    "**/huggingface/token",
    "**/.huggingface/token",
    "**/.config/rclone/rclone.conf",
    ".passwd-s3fs",
    "**/.oci/config",
    ".databrickscfg",
    ".mylogin.cnf",
    "**/.streamlit/secrets.toml",
    ".password-store/",
    "**/.sbt/.credentials",
    "**/.ivy2/.credentials",
    "**/.config/hub",
    # shell and REPL histories: commands typed with tokens and passwords in them
    ".*_history",
    ".zhistory",
    ".histfile",
)

#: Files that host tools run or import later (test runners, CI, the interpreter at start-up,
#: build tools, git hooks, direnv): an agent allowed to write them could run code on the host
#: (or in CI) outside the sandbox. Add them to a write-enabled policy's deny patterns.
HOST_EXECUTED_PATTERNS: Final[tuple[str, ...]] = (
    # Python: imported by pytest, by the interpreter at start-up, by installers
    "conftest.py",
    "*.pth",
    "sitecustomize.py",
    "usercustomize.py",
    "setup.py",
    "setup.cfg",
    "pyproject.toml",
    "noxfile.py",
    "tox.ini",
    "pytest.ini",
    "manage.py",
    # CI and hooks
    ".github/",
    ".gitlab-ci.yml",
    ".gitlab/",
    ".circleci/",
    ".travis.yml",
    "azure-pipelines.yml",
    "Jenkinsfile",
    ".buildkite/",
    ".pre-commit-config.yaml",
    ".pre-commit-hooks.yaml",
    ".husky/",
    ".githooks/",
    # build tools and task runners
    "Makefile",  # matched case-insensitively: makefile too
    "GNUmakefile",
    "*.mk",
    "justfile",
    "Taskfile.yml",
    "CMakeLists.txt",
    "build.gradle*",
    "settings.gradle*",
    "pom.xml",
    "build.rs",
    "Rakefile",
    "Gemfile",
    "package.json",
    ".yarnrc*",
    "Dockerfile",
    "docker-compose*.yml",
    "compose*.yaml",
    # editors and shells that run project files
    ".vscode/",
    ".idea/",
    ".envrc",
    ".bashrc",
    ".profile",
    ".zshrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    "**/.config/fish/",
    # git's own configuration (core.pager, core.fsmonitor, aliases run commands)
    ".gitconfig",
    "**/.config/git/",
    # tools that run a project file's code: pdb, pylint's init-hook, cargo's runners and
    # wrappers, bazel, mise, vim's exrc, dev containers, IPython and Jupyter start-up
    ".pdbrc",
    ".pylintrc",
    "pylintrc",
    "**/.cargo/config",
    "**/.cargo/config.toml",
    "Cargo.toml",
    ".bazelrc",
    "mise.toml",
    ".mise.toml",
    "**/.config/mise/",
    ".exrc",
    ".nvim.lua",
    ".devcontainer/",
    ".ipython/",
    ".jupyter/",
    "Vagrantfile",
    "Directory.Build.*",
    # more CI systems
    "bitbucket-pipelines.yml",
    ".drone.yml",
    "appveyor.yml",
    ".appveyor.yml",
    ".woodpecker.yml",
    ".woodpecker/",
)
