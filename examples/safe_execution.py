"""The README's usage, runnable: safe paths, a restricted run, and two refusals.

uv run python examples/safe_execution.py
"""

from __future__ import annotations

import os
import tempfile

from ai_sandbox.executor import execute_ai_code
from ai_sandbox.security import SecurityError, safe_path_access

ai_code = """
def analyze_data(input_data):
    return {"summary": "Data analysis complete", "count": len(input_data)}

result = analyze_data(input_data)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as project:
        os.chdir(project)  # the allowed root defaults to the current directory
        os.makedirs("data")

        file_path = safe_path_access("data/training.json")  # inside the root: allowed
        print(f"allowed path: {file_path.relative_to(os.getcwd())}")

        try:
            safe_path_access("../../etc/passwd")
        except SecurityError as exc:
            print(f"blocked file access: {exc.reason}")

        try:
            execute_ai_code("import os\nresult = os.getcwd()")
        except SecurityError as exc:
            print(f"blocked import: {exc.reason}")

        result = execute_ai_code(ai_code, {"input_data": [1, 2, 3]})
        print(result)


if __name__ == "__main__":
    main()
