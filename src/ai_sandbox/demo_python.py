"""The python-mode part of ``ai-sandbox demo``: one pandas analysis with a plot.

Full CPython (``language="python"``) in a strict worker with the data stack preloaded: the
code groups sales with pandas and draws a bar chart with matplotlib; the figure comes back as a
PNG in the result, and the demo writes it to a file outside the project and says where, with
its size. Without the data extra it says what to install and skips, successfully.
"""

from __future__ import annotations

import base64
import importlib.util
import tempfile
import textwrap
from pathlib import Path
from typing import TextIO

from ai_sandbox.exceptions import SandboxError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.sandbox import Sandbox

__all__ = ["PANDAS_DEMO_CODE", "run_python_demo"]

DATA_STACK = ("numpy", "pandas", "matplotlib")

PANDAS_DEMO_CODE = textwrap.dedent("""\
    import pandas as pd
    import matplotlib.pyplot as plt

    sales = pd.read_csv("data/sales.csv")
    by_region = sales.groupby("region")["amount"].agg(["sum", "count", "mean"]).round(2)
    by_region = by_region.sort_values("sum", ascending=False)
    print(by_region)

    ax = by_region["sum"].plot(kind="bar", title="Sales by region", color="#4C72B0")
    ax.set_ylabel("amount")
    plt.tight_layout()
    result = by_region
    """)

SALES_CSV = "region,amount\nnorth,120.5\nsouth,98.0\nnorth,75.25\neast,210.0\nsouth,42.0\n"


def run_python_demo(out: TextIO, *, image_dir: Path | None = None) -> int:
    """Run the pandas analysis in python mode; 0 when it worked (or was skipped: no extra)."""
    out.write(
        "\n" + "-" * 72 + '\nFull Python (language="python"): a pandas analysis with a plot\n'
    )
    missing = [name for name in DATA_STACK if importlib.util.find_spec(name) is None]
    if missing:
        out.write(
            f"(skipped: {', '.join(missing)} not installed; "
            "install the data extra: pip install 'ai-sandbox[data]')\n"
        )
        return 0
    policy = SandboxPolicy(language="python", preload=DATA_STACK, timeout_s=30)
    with tempfile.TemporaryDirectory(prefix="ai-sandbox-demo-python-") as tmp:
        root = Path(tmp)
        # The worker may run as another uid (nobody, when the host is root): let it read.
        root.chmod(0o755)
        (root / "data").mkdir(mode=0o755)
        (root / "data" / "sales.csv").write_text(SALES_CSV, encoding="utf-8")
        (root / "data" / "sales.csv").chmod(0o644)
        try:
            sandbox = Sandbox(root, policy)
        except SandboxError as exc:
            out.write(f"(skipped: python mode needs strict isolation, unavailable here: {exc})\n")
            return 0
        with sandbox:
            res = sandbox.run(PANDAS_DEMO_CODE)
    out.write(f"language={res.language}; {res.status} in {res.duration_ms:.1f} ms\n")
    if res.stdout:
        out.write(textwrap.indent(res.stdout.rstrip("\n"), "  | ") + "\n")
    if not res.ok:
        error = res.error
        out.write(f"!! the analysis failed: {error.type if error else res.status}\n")
        return 1
    out.write(f"result (JSON the model reads): {_short(res.result)}\n")
    folder = image_dir or Path(tempfile.mkdtemp(prefix="ai-sandbox-demo-plot-"))
    for number, image in enumerate(res.images, 1):
        data = base64.b64decode(image.data_base64)
        path = folder / f"figure-{number}.png"
        path.write_bytes(data)
        out.write(f"plot: {image.width}x{image.height} PNG, {len(data):,} bytes -> {path}\n")
    if not res.images:
        out.write("!! no plot came back\n")
        return 1
    return 0


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
