"""The data stack in ``language="python"``: preloaded numpy/pandas/matplotlib, their values as
JSON results, and plots returned as checked PNG images."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import WorkerError
from ai_sandbox.executor.data_values import to_plain
from ai_sandbox.executor.figures import png_size
from ai_sandbox.isolation.image_check import checked_images

np = pytest.importorskip("numpy", reason="the data extra (numpy) is not installed")
pd = pytest.importorskip("pandas", reason="the data extra (pandas) is not installed")
pytest.importorskip("matplotlib", reason="the data extra (matplotlib) is not installed")

DATA = SandboxPolicy(language="python", preload=("numpy", "pandas", "matplotlib"), max_images=3)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One python-mode sandbox with the data stack preloaded, for the module."""
    with Sandbox(tmp_path_factory.mktemp("root"), DATA) as sb:
        yield sb


# -- values as JSON, converted in the worker -------------------------------------------------
_VALUES = [
    pytest.param(
        "result = pd.DataFrame({'a': [1, 2], 'b': [0.5, None], 'c': ['x', 'y']})",
        {
            "type": "DataFrame",
            "shape": [2, 3],
            "columns": ["a", "b", "c"],
            "dtypes": {"a": "int64", "b": "float64", "c": "str"},
            "records": [{"a": 1, "b": 0.5, "c": "x"}, {"a": 2, "b": None, "c": "y"}],
        },
        id="dataframe",
    ),
    pytest.param(
        "result = pd.DataFrame({'n': [3]}, index=['k'])",
        {
            "type": "DataFrame",
            "shape": [1, 1],
            "columns": ["n"],
            "dtypes": {"n": "int64"},
            "index": ["k"],
            "records": [{"n": 3}],
        },
        id="dataframe-index",
    ),
    pytest.param(
        "result = pd.Series([1.5, float('nan')], index=['a', 'b'])",
        {"a": 1.5, "b": None},
        id="series",
    ),
    pytest.param("result = np.arange(6).reshape(2, 3)", [[0, 1, 2], [3, 4, 5]], id="ndarray"),
    pytest.param(
        "result = [np.int64(3), np.float32(0.5), np.bool_(True)]", [3, 0.5, True], id="sc"
    ),
    pytest.param("result = np.float64('nan')", None, id="nan"),
    pytest.param("result = pd.Timestamp('2024-05-01 12:00')", "2024-05-01T12:00:00", id="ts"),
    pytest.param(
        "result = np.array(['2024-01-01', 'NaT'], dtype='datetime64[D]')",
        ["2024-01-01", None],
        id="datetime64",
    ),
    pytest.param(
        "import datetime\nresult = {'d': datetime.date(2024, 1, 2), 's': {3, 1, 2}}",
        {"d": "2024-01-02", "s": [1, 2, 3]},
        id="date-and-set",
    ),
    pytest.param(
        "result = pd.DataFrame({'v': [1, 2, 3], 'g': list('aab')}).groupby('g')['v'].sum()",
        {"a": 3, "b": 3},
        id="groupby",
    ),
    pytest.param("result = {'mean': np.mean([1, 2, 3])}", {"mean": 2.0}, id="nested-scalar"),
]


@pytest.mark.parametrize(("code", "expected"), _VALUES)
def test_numpy_and_pandas_results_become_json(sandbox: Sandbox, code: str, expected: Any) -> None:
    """It turns numpy and pandas values into JSON a model can read."""
    res = sandbox.run("import numpy as np\nimport pandas as pd\n" + code)
    assert res.status == "ok", res.error
    assert res.result == expected


def test_a_huge_frame_is_a_limit_not_a_hang(sandbox: Sandbox) -> None:
    """It refuses a frame too large to send, with a hint, instead of converting it all."""
    res = sandbox.run(
        "import numpy as np, pandas as pd\nresult = pd.DataFrame(np.zeros((400000, 2)))"
    )
    assert res.status == "limit"
    assert res.error is not None
    assert "head" in res.error.message


def test_the_conversion_never_imports_numpy_or_pandas() -> None:
    """It leaves plain values alone and converts a cycle into a clear error."""
    cycle: list[Any] = []
    cycle.append(cycle)
    assert to_plain({"a": (1, 2.5), "b": None}) == {"a": [1, 2.5], "b": None}
    with pytest.raises(TypeError, match="nested"):
        to_plain(cycle)


# -- preload ----------------------------------------------------------------------------------
def test_preloaded_modules_import_without_reading_files(sandbox: Sandbox) -> None:
    """It makes the common data-stack paths work inside a locked-down worker."""
    code = (
        "import io, numpy as np, pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv(io.StringIO('g,v\\na,1\\nb,2\\na,3\\n'))\n"
        "summary = df.groupby('g')['v'].agg(['sum', 'mean'])\n"
        "print(summary)\n"
        "text = df.describe().to_string()\n"
        "result = {'sum': summary['sum'].to_dict(), 'inv': np.linalg.inv(np.eye(2)).tolist()}"
    )
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == {"sum": {"a": 4, "b": 2}, "inv": [[1.0, 0.0], [0.0, 1.0]]}
    assert "mean" in res.stdout


def test_the_zygote_stays_single_threaded_with_numpy(sandbox: Sandbox) -> None:
    """It keeps native thread pools at one thread, so the zygote may still fork safely."""
    zygote = sandbox._get_backend()._zygote  # type: ignore[attr-defined]
    with open(f"/proc/{zygote.pid}/status", encoding="ascii") as status:
        threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    assert threads == 1


@pytest.mark.parametrize("factor", [4, 16])
def test_a_numpy_allocation_beyond_the_limit_fails(tmp_path: Path, factor: int) -> None:
    """It stops a numpy allocation several times the memory limit (MemoryError or a kill)."""
    policy = DATA.model_copy(update={"memory_limit_mb": 128})
    with Sandbox(tmp_path, policy) as sb:
        res = sb.run(
            f"import numpy as np\na = np.ones({factor} * 128 * 1024 * 1024 // 8)\nresult = 1"
        )
    assert res.status == "limit"


def test_a_numpy_allocation_within_the_limit_works(sandbox: Sandbox) -> None:
    """It lets the code allocate most of memory_limit_mb above the preloaded modules."""
    res = sandbox.run(
        "import numpy as np\na = np.ones(150 * 1024 * 1024 // 8)\nresult = int(a.sum())"
    )
    assert res.status == "ok", res.error


# -- images ------------------------------------------------------------------------------------
def test_an_open_figure_comes_back_as_a_png(sandbox: Sandbox) -> None:
    """It returns a figure left open at the end of the run as a PNG image, and closes it."""
    res = sandbox.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nresult = 1")
    assert res.status == "ok", res.error
    assert len(res.images) == 1
    image = res.images[0]
    data = base64.b64decode(image.data_base64)
    assert image.media_type == "image/png"
    assert png_size(data) == (image.width, image.height) == (640, 480)
    again = sandbox.run("import matplotlib.pyplot as plt\nresult = plt.get_fignums()")
    assert again.result == []
    assert again.images == ()


def test_show_captures_and_does_not_block(sandbox: Sandbox) -> None:
    """It turns plt.show() into a capture that returns at once, as a notebook does."""
    code = (
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
        "after = plt.get_fignums()\nplt.figure()\nplt.bar(['a'], [1])\nresult = after"
    )
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == []
    assert [image.name for image in res.images] == ["figure 1", "figure 2"]
    assert "non-interactive" not in res.stdout


def test_images_are_capped_by_the_policy(sandbox: Sandbox) -> None:
    """It returns at most max_images images and says what it left out."""
    res = sandbox.run("import matplotlib.pyplot as plt\nfor i in range(5):\n    plt.figure()")
    assert len(res.images) == 3
    assert res.stdout.count("not returned") == 2


def test_an_image_over_the_byte_cap_is_left_out(tmp_path: Path) -> None:
    """It leaves out a PNG larger than max_image_bytes and says so."""
    policy = DATA.model_copy(update={"max_image_bytes": 1024})
    with Sandbox(tmp_path, policy) as sb:
        res = sb.run("import matplotlib.pyplot as plt\nplt.plot(range(100))")
    assert res.images == ()
    assert "max_image_bytes" in res.stdout


def test_the_tool_result_carries_the_images(sandbox: Sandbox) -> None:
    """It puts a run's images into the run_python tool result for the adapters."""
    result = sandbox.call("run_python", {"code": "import matplotlib.pyplot as plt\nplt.plot([1])"})
    assert result.ok
    assert len(result.images) == 1
    assert result.images[0].media_type == "image/png"


def test_a_session_returns_images_too(sandbox: Sandbox) -> None:
    """It returns figures from session runs, each run its own."""
    with sandbox.session() as session:
        first = session.run("import matplotlib.pyplot as plt\nfig = plt.figure()\nplt.plot([1])")
        second = session.run("result = 1")
    assert len(first.images) == 1
    assert second.images == ()


_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000020000000308060000")


def _image(**changes: Any) -> dict[str, Any]:
    image = {
        "media_type": "image/png",
        "width": 2,
        "height": 3,
        "data_base64": base64.b64encode(_PNG).decode(),
        "name": "figure 1",
    }
    image.update(changes)
    return image


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("x", id="not-a-list"),
        pytest.param([_image()] * 4, id="too-many"),
        pytest.param([_image(media_type="image/svg+xml")], id="media-type"),
        pytest.param([_image(data_base64="!!!!")], id="bad-base64"),
        pytest.param(
            [_image(data_base64=base64.b64encode(b"GIF89a" + bytes(30)).decode())], id="gif"
        ),
        pytest.param([_image(data_base64=base64.b64encode(_PNG + bytes(5000)).decode())], id="big"),
        pytest.param([_image(name="x\n" * 10)], id="name-control"),
        pytest.param([_image(name=7)], id="name-type"),
        pytest.param(["not a dict"], id="item"),
    ],
)
def test_the_host_refuses_malformed_images(raw: Any) -> None:
    """It refuses (as a malformed result) images that no worker of ours would send."""
    policy = DATA.model_copy(update={"max_image_bytes": 4096})
    with pytest.raises(WorkerError):
        checked_images(raw, policy)


def test_the_host_reads_the_size_from_the_png_itself() -> None:
    """It takes width and height from the PNG header, not from the worker's word."""
    (image,) = checked_images([_image(width=9999, height=1)], DATA)
    assert (image.width, image.height) == (2, 3)


def test_a_restricted_worker_may_not_send_images() -> None:
    """It refuses images in the result of a restricted-language worker."""
    with pytest.raises(WorkerError):
        checked_images([_image()], SandboxPolicy())


def test_the_common_data_path_imports_nothing_new(sandbox: Sandbox) -> None:
    """It has everything the common numpy/pandas/matplotlib path needs already in memory."""
    code = (
        "import sys\nbefore = set(sys.modules)\n"
        "import io, numpy as np, pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv(io.StringIO('g,v\\na,1\\nb,2\\na,3\\n'))\n"
        "s = df.groupby('g')['v'].agg(['sum', 'mean'])\n"
        "print(s, df.describe(), df.sort_values('v'), df.merge(df, on='g'))\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nax.set_title('x')\ns.plot(kind='bar')\n"
        "np.linalg.inv(np.eye(2))\nnp.random.default_rng(1).normal(size=3)\n"
        "result = sorted(set(sys.modules) - before)"
    )
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == []


def test_rendering_warnings_name_the_figure_not_our_code(sandbox: Sandbox) -> None:
    """It reports a figure's rendering warnings as notes, without our file names."""
    res = sandbox.run("import matplotlib.pyplot as plt\nplt.title('\u4f60')")
    assert len(res.images) == 1
    assert "[figure 1: Glyph" in res.stdout
    assert "ai_sandbox" not in res.stdout


def test_the_workers_pandas_warm_up_runs(sandbox: Sandbox) -> None:
    """It keeps the pandas warm-up every python-mode worker runs before its job working (it
    fails silently inside the worker, so a broken one would only show as slower calls)."""
    from ai_sandbox.isolation.worker import PANDAS_WARM_UP_CODE

    res = sandbox.run(PANDAS_WARM_UP_CODE)
    assert res.status == "ok", res.error
    assert res.result["records"] == [
        {"key": "a", "sum": 4.5, "mean": 2.25},
        {"key": "b", "sum": 2.0, "mean": 2.0},
    ]
