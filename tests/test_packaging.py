"""The wheel: import package `rfactory` only, with prompts and recipes inside it."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_layout(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("rfactory-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("rfactory-")}
    assert tops == {"rfactory"}  # never a top-level `factory` or `verifiers`
    for needed in ("rfactory/cli/__init__.py", "rfactory/verifiers/math/__init__.py", "rfactory/verifiers/math/latex.py", "rfactory/prompts/reasoning_system.txt",
                   "rfactory/prompts/math_user.txt", "rfactory/recipes/math.yaml", "rfactory/teachers/openai_api.py",
                   "rfactory/rewards/__init__.py", "rfactory/rewards/verl.py", "rfactory/rl/train.py",
                   "rfactory/training/launch.py", "rfactory/recipes/rl/smoke.yaml", "rfactory/recipes/sft/smoke.yaml",
                   "rfactory/prompts/eval_code_judge.txt", "rfactory/prm/label.py", "rfactory/recipes/prm/smoke.yaml",
                   "rfactory/prompts/prm_continue.txt"):
        assert needed in names, needed
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "rfactory = rfactory.cli:main" in entry_points
    assert "openai = rfactory.teachers.openai_api:OpenAITeacher" in entry_points
